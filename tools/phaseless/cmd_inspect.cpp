#include <fstream>
#include <iostream>

#include "sim/core/errors.hpp"
#include "sim/io/trace_reader.hpp"
#include "tools/phaseless/cli.hpp"

namespace phaseless::cli {

int cmd_inspect(int argc, char** argv) {
  po::options_description opts("options");
  std::string trace, csv, out;
  opts.add_options()("trace", po::value(&trace)->required(), "trace file (.h5)")(
      "csv", po::value(&csv), "export this dataset as CSV, e.g. /metrics/test_accuracy")(
      "out,o", po::value(&out), "write the CSV here instead of standard output");
  po::variables_map vm;
  if (!parse("inspect", "TRACE [--csv DATASET [--out FILE]]", opts, "trace", argc, argv, vm)) return exit_ok;
  if (csv.empty()) {
    io::print_trace_summary(trace, std::cout);
    return exit_ok;
  }
  if (out.empty()) {
    io::export_csv(trace, csv, std::cout);
    return exit_ok;
  }
  std::ofstream f(out);
  if (!f) throw core::user_error("--out: cannot write '" + out + "'");
  io::export_csv(trace, csv, f);
  f.close();
  if (!f) throw core::user_error("--out: writing '" + out + "' failed (disk full?)");
  return exit_ok;
}

}  // namespace phaseless::cli
