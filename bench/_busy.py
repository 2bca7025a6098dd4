"""What the timing benches share: a child process timed while, where asked, another keeps one core busy."""

import subprocess
import sys


def timed_child(command, env, busy):
    """Run ``command`` (a list) with ``env``, another process spinning on one core throughout where ``busy``;
    return the number the child prints last (its seconds)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        child = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    finally:
        if spinner:
            spinner.kill()
            spinner.wait()
    return float(child.stdout.split()[-1])
