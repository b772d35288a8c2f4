// libFuzzer target: the model text loader with --set overrides (parse, overrides,
// defaults, validation including the data files' headers and labels).
// Input: the model text, optionally followed by a line "%%" and one --set argument per
// line. Every outcome must be a model or a core::user_error: any other exception, a
// crash, a leak or undefined behaviour is a finding.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/model_loader.hpp"
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
  try {
    phaseless::io::load_model(file, sets);
  } catch (const phaseless::core::user_error&) {
  }
  return 0;
}
