#include "sim/io/run_guards.hpp"

#include <cstdio>

#include "sim/core/errors.hpp"
#include "sim/neurons/learning_population.hpp"
#include "sim/io/session.hpp"

namespace phaseless::io {

static_assert(weight_bound == 1e6, "check_bound and its message say 1e6");

void check_labels(const core::dataset& d, const std::filesystem::path& file, const core::population_spec& out) {
  for (std::size_t r = 0; r < d.labels.size(); ++r)
    if (d.labels[r] >= out.size)
      throw core::user_error(file.string() + ": item " + std::to_string(r) + " has label " +
                             std::to_string(d.labels[r]) + ", but the output population '" + out.name + "' has " +
                             std::to_string(out.size) + " neurons; allowed: labels 0.." +
                             std::to_string(out.size - 1) + " (or populations[" + out.name + "].size at least " +
                             std::to_string(d.labels[r] + 1) + ")");
}

void beyond_bound(const std::string& what, double value, std::uint64_t s, core::mode_kind mode) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", value);
  throw core::numeric_error(what + " reached " + buf + " by training sample " + std::to_string(s) +
                            ", beyond the divergence bound |value| <= 1e6; " + neurons::diverged_hint(mode));
}

std::vector<named_path> run_inputs(const loaded_model& lm) {
  std::vector<named_path> in{{"model file", lm.path}};
  if (lm.model.data().has_idx()) {
    const auto& idx = lm.model.data().idx();
    const std::pair<const char*, const std::string*> files[] = {{"training images", &idx.train_images()},
                                                                {"training labels", &idx.train_labels()},
                                                                {"test images", &idx.test_images()},
                                                                {"test labels", &idx.test_labels()}};
    for (const auto& [role, p] : files)
      if (!p->empty()) in.push_back({std::string(role) + " file", resolve_data_path(lm, *p)});
  }
  return in;
}

}  // namespace phaseless::io
