#include <cstdio>

#include "sim/core/errors.hpp"
#include "sim/io/sonata_export.hpp"
#include "tools/phaseless/cli.hpp"

namespace phaseless::cli {

int cmd_export(int argc, char** argv) {
  po::options_description opts("options");
  std::string source, dir;
  std::vector<std::string> sets;
  opts.add_options()("source", po::value(&source)->required(), "model file (.textproto) or trace (.h5)")(
      "dir", po::value(&dir)->required(), "folder to write the circuit into (created if missing)")(
      "sonata", "write a SONATA circuit (the only format, required)")(
      "set,s", po::value(&sets)->composing(), "override a scalar field of a model: path.to.field=value (repeatable)");
  po::variables_map vm;
  // Two positionals: parse() takes one, so the second is given by position here.
  po::options_description all = opts;
  all.add_options()("help,h", "show this help");
  po::positional_options_description pos;
  pos.add("source", 1).add("dir", 1);
  const char* usage = "--sonata MODEL_OR_TRACE DIR [--set path=value]...";
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::printf("usage: phaseless export %s\n\n", usage);
      std::cout << all << "\n";
      return exit_ok;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw core::user_error(std::string(e.what()) + "\nusage: phaseless export " + usage);
  }
  if (!vm.count("sonata"))
    throw core::user_error("--sonata is required (the only export format)\nusage: phaseless export " +
                           std::string(usage));
  const auto s = io::export_sonata(source, dir, sets);
  std::printf("SONATA circuit of %s (%s) in %s\n", source.c_str(), s.weights_from.c_str(), dir.c_str());
  std::printf("  %zu node populations, %zu nodes; %zu edge populations, %zu edges\n", s.node_populations, s.nodes,
              s.edge_populations, s.edges);
  for (const auto& f : s.files) std::printf("  %s\n", f.c_str());
  return exit_ok;
}

}  // namespace phaseless::cli
