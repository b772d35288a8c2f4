// libFuzzer target: the trace reader (`phaseless inspect`): summary, dataset list,
// reading and CSV export of every dataset. Input: the bytes of an HDF5 file.
#include <cstdint>
#include <sstream>

#include "sim/core/errors.hpp"
#include "sim/io/trace_reader.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = phaseless::fuzz::write_file("trace.h5", data, size);
  namespace io = phaseless::io;
  auto attempt = [](auto&& f) {
    try {
      f();
    } catch (const phaseless::core::user_error&) {
    } catch (const phaseless::core::io_error&) {
    }
  };
  std::ostringstream out;
  attempt([&] { io::print_trace_summary(file, out); });
  attempt([&] {
    const auto names = io::list_datasets(file);
    for (std::size_t k = 0; k < names.size() && k < 16; ++k) {
      attempt([&] { io::read_dataset(file, names[k]); });
      attempt([&] { io::export_csv(file, names[k], out); });
    }
  });
  attempt([&] { io::export_csv(file, "/metrics/test_accuracy", out); });
  return 0;
}
