#pragma once
// Shared pieces of the `phaseless` subcommands. Exit statuses: 0 success, 1 a bug,
// 2 a user mistake (model, data, path, flag), 3 learning diverged, 4 a failed read or
// write (disk full, I/O error), 5 out of memory, 130 interrupted.
#include <boost/program_options.hpp>
#include <atomic>
#include <iostream>
#include <string>
#include <vector>

#include "sim/io/session.hpp"

namespace phaseless::cli {

namespace po = boost::program_options;

constexpr int exit_ok = 0, exit_user = 2, exit_diverged = 3, exit_io = 4, exit_memory = 5,
              exit_interrupted = 130;

// Parses argv for one subcommand: `positional` names the one positional argument.
// Prints help and returns false when --help is given. Throws core::user_error on
// unknown or malformed flags, naming the flag and the subcommand's usage.
bool parse(const std::string& command, const std::string& usage, po::options_description& opts,
           const char* positional, int argc, char** argv, po::variables_map& vm);

// Ctrl-C / SIGTERM set this; long runs stop after the current sample, flush and close.
std::atomic<bool>& stop_flag();
void install_signal_handlers();

// The value of --threads: "" (not given) -> 0, the model's execution.threads; else an
// integer from 1 to max_thread_flag(). Throws core::user_error naming the flag and range.
// `flag` names it in the message (--shards takes the same range).
unsigned thread_flag(const std::string& text, const char* flag = "--threads");
// 2 x this machine's hardware threads, at most io::max_threads: results are bit-identical
// at any count, so more threads than cores would only slow the run down.
unsigned max_thread_flag();

std::string joined_command_line(int argc, char** argv);
std::string percent(double fraction);

int cmd_run(int argc, char** argv);
int cmd_validate(int argc, char** argv);
int cmd_compare(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_export(int argc, char** argv);

}  // namespace phaseless::cli
