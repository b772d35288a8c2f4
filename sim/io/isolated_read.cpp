// A child process per risky read, and a parent that tells a slow child from a stuck one.
#include "sim/io/isolated_read.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "sim/core/errors.hpp"

namespace phaseless::io {
namespace {

// What the kernel counts for a process: bytes and calls of read()/write() (any progress on
// a file, a pipe or a terminal changes it) and the CPU time it has used.
struct activity {
  unsigned long long io = 0;   // rchar + wchar + syscr + syscw
  double cpu_seconds = 0;
  bool known = false;
};

activity sample(int pid) {
  activity a;
  std::ifstream io("/proc/" + std::to_string(pid) + "/io");
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!io || !stat) return a;
  std::string key;
  unsigned long long value = 0;
  while (io >> key >> value)
    if (key == "rchar:" || key == "wchar:" || key == "syscr:" || key == "syscw:") a.io += value;
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');   // the command name may hold spaces and parentheses
  if (close == std::string::npos) return a;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {   // fields 14 and 15: user and system time
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  a.cpu_seconds = double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
  a.known = true;
  return a;
}

isolated_outcome ended(int status) {
  isolated_outcome o;
  if (WIFEXITED(status)) {
    o.how = isolated_outcome::exited;
    o.code = WEXITSTATUS(status);
  } else {
    o.how = isolated_outcome::crashed;
    o.code = WTERMSIG(status);
  }
  return o;
}

}  // namespace

std::string isolated_outcome::what() const {
  switch (how) {
    case exited: return "exited with status " + std::to_string(code);
    case crashed: return "crashed (signal " + std::to_string(code) + ", " + ::strsignal(code) + ")";
    case stalled: return "stopped making progress (it kept the CPU busy without reading anything)";
    case not_isolated: break;
  }
  return "was not run in a separate process";
}

isolated_outcome watch_child(int pid, double stall_seconds) {
  using clock = std::chrono::steady_clock;
  activity last = sample(pid);
  auto last_change = clock::now();
  auto pause = std::chrono::milliseconds(1);   // most reads end within milliseconds
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return ended(status);
    if (r < 0 && errno != EINTR) throw core::internal_error("waitpid failed: " + std::string(std::strerror(errno)));
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
    const activity now = sample(pid);
    if (!now.known) continue;   // exiting: the next waitpid collects it
    if (!last.known || now.io != last.io) {
      last = now;
      last_change = clock::now();
      continue;
    }
    // Stuck: no read or write for stall_seconds, while it ran on the CPU for at least half
    // of that (a loaded machine may give it less than all). Waiting on a disk or a pipe
    // uses no CPU, so a slow device or a paused reader of the output is never mistaken.
    const double idle = std::chrono::duration<double>(clock::now() - last_change).count();
    if (idle >= stall_seconds && now.cpu_seconds - last.cpu_seconds >= 0.5 * stall_seconds) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      isolated_outcome o;
      o.how = isolated_outcome::stalled;
      return o;
    }
  }
}

isolated_outcome run_isolated(const std::function<int()>& body, double stall_seconds) {
  const pid_t pid = ::fork();
  if (pid < 0) return {};
  if (pid == 0) {
    int code = 1;
    try {
      code = body();
    } catch (...) {
    }
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    ::_exit(code);   // not exit(): the parent's atexit handlers and libraries' state stay the parent's
  }
  return watch_child(pid, stall_seconds);
}

}  // namespace phaseless::io
