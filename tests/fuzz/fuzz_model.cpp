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
  std::vector<std::string> sets;
  const auto file = phaseless::fuzz::write_model_input(data, size, sets);
  try {
    phaseless::io::load_model(file, sets);
  } catch (const phaseless::core::user_error&) {
  }
  return 0;
}
