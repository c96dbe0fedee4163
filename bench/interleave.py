"""Old against new in the same rounds: runs each shell command once per round, ROUNDS
rounds, and prints the minimum and median wall and CPU (user + system of the command's
processes) of each. On a shared machine, a burst of load hits every command of a round,
so comparing commands of the same rounds is steadier than comparing separate runs.

usage: python3 bench/interleave.py ROUNDS "command A" "command B" ...
e.g.   python3 bench/interleave.py 9 "/tmp/old collapse X" "target/release/faultline collapse X"
"""
import resource
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds, cmds = int(sys.argv[1]), sys.argv[2:]
    times = {c: ([], []) for c in cmds}
    for _ in range(rounds):
        for c in cmds:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(["bash", "-c", c], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            times[c][0].append(wall)
            times[c][1].append(cpu)
    for c in cmds:
        wall, cpu = times[c]
        print(f"wall min {min(wall):.3f} med {statistics.median(wall):.3f} | "
              f"cpu min {min(cpu):.3f} med {statistics.median(cpu):.3f} | {c}")


if __name__ == "__main__":
    main()
