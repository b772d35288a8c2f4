// libFuzzer target (campaigns only, it links the whole library): a model the loader
// accepts must build. Input as for fuzz_model. Every model that validates, and whose
// estimated memory is small, goes through build_network_spec and presentation_interval:
// an exception other than core::user_error, or a crash, is a check validation missed.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/model_loader.hpp"
#include "sim/io/model_validate.hpp"
#include "sim/io/network_builder.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> sets;
  const auto file = phaseless::fuzz::write_model_input(data, size, sets);
  namespace io = phaseless::io;
  try {
    const io::loaded_model lm = io::load_model(file, sets);
    io::data_summary none;
    const std::uint64_t bytes = io::check_model_memory(lm.model, none, [](const std::string&, const std::string&) {});
    if (bytes > (std::uint64_t{64} << 20)) return 0;   // valid, but too large to build thousands of times
    const auto spec = io::build_network_spec(lm.model);
    io::presentation_interval(lm.model, spec);
  } catch (const phaseless::core::user_error&) {
  }
  return 0;
}
