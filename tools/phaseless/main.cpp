// phaseless: run, validate, compare and inspect event-driven learning simulations.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "sim/core/errors.hpp"
#include "sim/io/version.hpp"
#include "tools/phaseless/cli.hpp"

namespace {
const char* usage =
    "usage: phaseless <command> [options]\n"
    "\n"
    "commands:\n"
    "  run MODEL       train a model by message passing, write an HDF5 trace\n"
    "  validate MODEL  check a model file and its data; print what it describes\n"
    "  compare MODEL   run the event engine and the synchronous baseline side by side\n"
    "  inspect TRACE   summarise a trace or export one of its datasets to CSV\n"
    "  export --sonata MODEL_OR_TRACE DIR\n"
    "                  write the network as a SONATA circuit (nodes, edges, config)\n"
    "\n"
    "'phaseless <command> --help' describes each command's options; 'phaseless --version' prints\n"
    "the version and the git commit of this build.\n";
}

int main(int argc, char** argv) {
  using namespace phaseless;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? cli::exit_user : cli::exit_ok;
  }
  const std::string cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::printf("phaseless %s (commit %s)\n", io::software_version().c_str(), io::git_commit().c_str());
    return cli::exit_ok;
  }
  try {
    if (cmd == "run") return cli::cmd_run(argc - 1, argv + 1);
    if (cmd == "validate") return cli::cmd_validate(argc - 1, argv + 1);
    if (cmd == "compare") return cli::cmd_compare(argc - 1, argv + 1);
    if (cmd == "inspect") return cli::cmd_inspect(argc - 1, argv + 1);
    if (cmd == "export") return cli::cmd_export(argc - 1, argv + 1);
    std::fprintf(stderr, "phaseless: unknown command '%s'; allowed: run, validate, compare, inspect, export\n", cmd.c_str());
    return cli::exit_user;
  } catch (const core::user_error& e) {
    std::fprintf(stderr, "phaseless %s: error: %s\n", cmd.c_str(), e.what());
    return cli::exit_user;
  } catch (const core::io_error& e) {
    std::fprintf(stderr, "phaseless %s: error: %s\n", cmd.c_str(), e.what());
    return cli::exit_io;
  } catch (const std::bad_alloc&) {
    // Validation rejects models whose estimated memory exceeds this machine's; this is
    // the fallback when the estimate fell short or other processes took the memory.
    std::fprintf(stderr,
                 "phaseless %s: error: out of memory: the model needs more memory than is free "
                 "(reduce populations[].size, data.train_subset / data.test_subset, schedule.epochs or "
                 "record.*; see 'phaseless validate' for the estimate); any trace written so far is closed\n",
                 cmd.c_str());
    return cli::exit_memory;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phaseless %s: internal error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
