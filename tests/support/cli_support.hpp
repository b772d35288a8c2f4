#pragma once
// Running the `phaseless` command from a test: its exit status (or 128 + signal) and
// everything it printed, plus paths into the source tree and a per-process scratch folder.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace phaseless::test {

struct cli_result {
  int status;   // exit status, or 128 + signal; 124 when `timeout` had to stop it
  std::string out;
};

// `seconds` > 0 runs the command under `timeout`, so a regression to "blocks forever"
// fails the test instead of hanging the suite.
inline cli_result sh(const std::string& cmd, int seconds = 0) {
  const std::string full = (seconds > 0 ? "timeout " + std::to_string(seconds) + " " : std::string()) + cmd + " 2>&1";
  cli_result r{0, ""};
  FILE* p = popen(full.c_str(), "r");
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) r.out += buf;
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

inline std::string cli() { return PHASELESS_CLI; }
inline std::string src(const std::string& p) { return std::string(PHASELESS_SOURCE_DIR) + "/" + p; }

// A file `name` in this process's scratch folder `<tmp>/<prefix><pid>`.
inline std::filesystem::path scratch(const std::string& prefix, const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d / name;
}

}  // namespace phaseless::test
