#!/usr/bin/env python3
"""Writes pgbench scripts that put N transitions of bench/transition.pgbench.sql in one
transaction, each in a savepoint as tiendo's group-commit writer does (`--savepoints`) or not,
to see what PostgreSQL spends on commits and savepoints apart from the statements themselves.

    python3 bench/pgbench_batch.py --n 8 --savepoints > batch_sp.sql
    python3 bench/pgbench_batch.py --n 8 > batch_nosp.sql
    pgbench -n -M prepared -c 32 -j 2 -T 10 -D tasks=10000 -D clients=32 -f batch_sp.sql DB

on a database kept by `tiendo-bench transitions --backend postgres --keep`. pgbench's tps is
then batches a second: multiply by N for transitions. The N tasks of a batch are distinct and
in the client's own slice, as in the one-transition script.
"""
import argparse
import pathlib

SCRIPT = pathlib.Path(__file__).with_name("transition.pgbench.sql")


def renamed(text: str, i: int) -> str:
    for old, new in [
        ("\\set n ", f"\\set n{i} "),
        ("WHERE n = :n)", f"WHERE n = :n{i})"),
        (":t_", f":t{i}_"),
        ("gset t_", f"gset t{i}_"),
        (":a_id", f":a{i}_id"),
        ("gset a_", f"gset a{i}_"),
    ]:
        text = text.replace(old, new)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8, help="transitions a transaction")
    ap.add_argument("--savepoints", action="store_true", help="each in a savepoint")
    a = ap.parse_args()
    body = "\n".join(l for l in SCRIPT.read_text().split("\n") if not l.startswith("--"))
    body = body[body.index("\\set n") :]
    pick, rest = body.split("BEGIN;", 1)
    writes = rest[: rest.rindex("COMMIT;")]
    out = []
    for i in range(a.n):
        out.append(
            renamed(pick, i).replace(
                "random(0, :tasks / :clients - 1)",
                f"(random(0, :tasks / :clients / {a.n} - 1) * {a.n} + {i})",
            )
        )
    out.append("BEGIN;")
    for i in range(a.n):
        out += ["SAVEPOINT g;", renamed(writes, i), "RELEASE SAVEPOINT g;"] if a.savepoints else [renamed(writes, i)]
    out.append("COMMIT;")
    print("\n".join(out))


if __name__ == "__main__":
    main()
