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
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> sets;
  std::size_t cut = in.find("\n%%\n");
  if (cut != std::string::npos) {
    for (std::size_t a = cut + 4; a <= in.size() && sets.size() < 16;) {
      const std::size_t b = std::min(in.find('\n', a), in.size());
      sets.push_back(in.substr(a, b - a));
      a = b + 1;
    }
  } else {
    cut = in.size();
  }
  const auto file = phaseless::fuzz::write_file("m/model.textproto", data, cut);
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
