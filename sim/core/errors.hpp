#pragma once
// Error types. A user_error is a mistake in something the user gave us (model
// file, dataset, output path, flag): its message names the place and what is
// allowed, and the CLI turns it into exit status 2. Everything else that
// escapes is a bug (internal_error) or a runtime failure (numeric_error).
#include <stdexcept>
#include <string>

namespace phaseless::core {

struct user_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Learning produced NaN/Inf: reported cleanly with where and when.
struct numeric_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The system could not complete a read or write the run needs (disk full, I/O
// error): not the user's mistake and not a bug. The message names the file.
struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct internal_error : std::logic_error {
  using std::logic_error::logic_error;
};

}  // namespace phaseless::core
