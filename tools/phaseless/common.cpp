#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "sim/core/errors.hpp"
#include "sim/io/model_limits.hpp"
#include "tools/phaseless/cli.hpp"

namespace phaseless::cli {

bool parse(const std::string& command, const std::string& usage, po::options_description& opts,
           const char* positional, int argc, char** argv, po::variables_map& vm) {
  opts.add_options()("help,h", "show this help");
  po::positional_options_description pos;
  if (positional) pos.add(positional, 1);
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: phaseless " << command << " " << usage << "\n\n" << opts << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw core::user_error(std::string(e.what()) + "\nusage: phaseless " + command + " " + usage +
                           "  (see 'phaseless " + command + " --help')");
  }
  return true;
}

std::atomic<bool>& stop_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {
extern "C" void on_signal(int) { stop_flag().store(true); }
}  // namespace

void install_signal_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

unsigned max_thread_flag() {
  return std::min(io::max_threads, 2 * std::max(1u, std::thread::hardware_concurrency()));
}

unsigned thread_flag(const std::string& text, const char* flag) {
  if (text.empty()) return 0;
  const unsigned limit = max_thread_flag();
  unsigned long long n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > limit)
    throw core::user_error(std::string(flag) + " " + text + ": allowed: an integer from 1 to " + std::to_string(limit) +
                           " (2 x the " + std::to_string(std::max(1u, std::thread::hardware_concurrency())) +
                           " hardware threads of this machine, at most " + std::to_string(io::max_threads) + ")");
  return static_cast<unsigned>(n);
}

std::string joined_command_line(int argc, char** argv) {
  std::string s = "phaseless";
  for (int i = 0; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

std::string percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * f);
  return buf;
}

}  // namespace phaseless::cli
