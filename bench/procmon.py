"""Run a command and measure its wall time and peak RSS of its whole process tree.

Reads /proc every 20 ms and sums VmRSS over the process and all its descendants (Beam's
multi-process workers included), so the peak is what the machine actually had to hold.
"""

import os
import signal
import subprocess
import threading
import time


def _children(pid):
  # Every thread's list: /proc/P/task/P/children names only the children the main thread
  # started, and Beam's FnApiRunner starts its worker processes from other threads.
  out = []
  try:
    tasks = os.listdir(f'/proc/{pid}/task')
  except OSError:
    return out
  for task in tasks:
    try:
      with open(f'/proc/{pid}/task/{task}/children', encoding='ascii') as f:
        out += [int(p) for p in f.read().split()]
    except OSError:
      pass
  return out


def _rss_kib(pid):
  try:
    with open(f'/proc/{pid}/status', encoding='ascii') as f:
      for line in f:
        if line.startswith('VmRSS:'):
          return int(line.split()[1])
  except OSError:
    pass
  return 0


def tree_rss_kib(pid):
  total, stack = 0, [pid]
  while stack:
    current = stack.pop()
    total += _rss_kib(current)
    stack.extend(_children(current))
  return total


def run_measured(command, env=None, cwd=None, timeout=1800):
  """Runs ``command``; returns dict(seconds, peak_rss_mib, returncode, stdout, stderr,
  timed_out). After ``timeout`` seconds the process group is killed and timed_out is True."""
  start = time.perf_counter()
  process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
  peak = [0]
  done = threading.Event()

  def sample():
    while not done.is_set():
      peak[0] = max(peak[0], tree_rss_kib(process.pid))
      done.wait(0.02)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  timed_out = False
  try:
    try:
      stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
      # Stop the whole process group we started (the program and its workers), then reap.
      timed_out = True
      os.killpg(process.pid, signal.SIGKILL)
      stdout, stderr = process.communicate()
  finally:
    done.set()
    sampler.join()
  return {'seconds': time.perf_counter() - start, 'peak_rss_mib': peak[0] / 1024,
          'returncode': process.returncode, 'stdout': stdout, 'stderr': stderr,
          'timed_out': timed_out}
