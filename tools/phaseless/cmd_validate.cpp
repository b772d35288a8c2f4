#include <cstdio>

#include "sim/io/data_source.hpp"
#include "sim/io/network_builder.hpp"
#include "sim/rules/event_network.hpp"
#include "tools/phaseless/cli.hpp"

namespace phaseless::cli {

int cmd_validate(int argc, char** argv) {
  po::options_description opts("options");
  std::string model;
  std::vector<std::string> sets;
  opts.add_options()("model", po::value(&model)->required(), "model file (.textproto)")(
      "set,s", po::value(&sets)->composing(), "override a scalar field: path.to.field=value (repeatable)");
  po::variables_map vm;
  if (!parse("validate", "MODEL [--set path=value]...", opts, "model", argc, argv, vm)) return exit_ok;
  const auto lm = io::load_model(model, sets);   // throws with every problem found
  const auto spec = io::build_network_spec(lm.model);
  const auto interval = io::presentation_interval(lm.model, spec);
  std::printf("%s: OK — model '%s'\n", model.c_str(), lm.model.name().c_str());
  for (const auto& p : spec.populations) std::printf("  population %-12s %7u neurons\n", p.name.c_str(), p.size);
  for (const auto& p : spec.projections)
    std::printf("  projection %-12s %s -> %s, %llu synapses, delays %lld..%lld ticks\n", p.name.c_str(),
                spec.populations[p.pre].name.c_str(), spec.populations[p.post].name.c_str(),
                (unsigned long long)p.syn.size(), (long long)p.forward.class_delay.front(),
                (long long)p.forward.max());
  std::printf("  rule %s, critical path %lld ticks, presentation interval %lld ticks\n", spec.learning.rule.c_str(),
              (long long)rules::critical_path(spec), (long long)interval);
  std::printf("  data %s\n", io::describe_data(lm).c_str());
  return exit_ok;
}

}  // namespace phaseless::cli
