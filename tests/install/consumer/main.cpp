// Loads a model, trains it for one epoch through the installed library and checks
// that the run learned something measurable (a result row per evaluation, weights).
#include <cstdio>

#include "sim/io/session.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer MODEL\n");
    return 2;
  }
  const auto model = phaseless::io::load_model(argv[1], {"schedule.epochs=1"});
  phaseless::io::run_options opt;
  opt.progress = false;
  const auto r = phaseless::io::run(model, opt);
  std::printf("consumer: %llu samples, %zu weight matrices, test accuracy %.3f\n",
              static_cast<unsigned long long>(r.samples), r.weights.size(), r.rows.back().test_accuracy);
  return r.samples == 5 && r.weights.size() == 2 ? 0 : 1;
}
