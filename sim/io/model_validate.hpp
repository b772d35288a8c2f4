#pragma once
// Semantic validation of a parsed model, and the map from field paths back to where
// the user wrote them (file position or --set argument).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/text_format.h>

#include "sim/io/model_loader.hpp"
#include "sim/io/model_overrides.hpp"

namespace phaseless::io {

// Answers "where did the value at this field path come from?" so that a semantic
// error can point at the line to edit.
class source_map {
 public:
  // `tree` may be null (no positions known); it must outlive the map.
  source_map(std::string file, const google::protobuf::TextFormat::ParseInfoTree* tree,
             std::vector<override_site> overrides);

  // Prefix for a problem at `path` ("populations[1].size"): "--set GIVEN: " when an
  // override wrote that field (or a message containing it), else "FILE:LINE:COL: " of
  // the field, or of the nearest enclosing message that appears in the file, else "FILE: ".
  std::string where(std::string_view path) const;

 private:
  std::string file_;
  const google::protobuf::TextFormat::ParseInfoTree* tree_;
  std::vector<override_site> overrides_;
};

// Checks every rule of the schema and throws one core::user_error listing all
// problems, one per line: "WHERE field.path: problem; allowed: ...". Reads only the
// headers of the data files. Expects apply_defaults to have run.
void validate_model(const loaded_model& m, const source_map& where);

// Same for a model loaded earlier: positions are re-derived from m.text and
// m.overrides (a model built in code, with empty text, gets "FILE: " prefixes).
void validate_model(const loaded_model& m);

// Reports one problem: field path, then what is wrong and what is allowed.
using report_fn = std::function<void(const std::string& path, const std::string& what)>;

// A population the data must fit, and the path of its size field (for messages).
struct population_ref {
  const phaseless::v1::Population* pop = nullptr;   // null if the model has none
  std::string size_path;
};

// What the data holds, as far as validation could read it (0: unknown or unusable).
struct data_summary {
  std::uint64_t train_rows = 0, test_rows = 0;   // after train_subset / test_subset
  std::uint64_t cols = 0;                        // values per sample (pixels, teacher inputs)
};

// The data part of validate_model (model_validate_data.cpp): data source, the IDX
// files' existence, headers and sizes, their shapes against the INPUT population,
// the largest train and test label against the OUTPUT population, subsets.
data_summary check_model_data(const loaded_model& m, const population_ref& input, const population_ref& output,
                              const report_fn& add);

// The memory a run of the model needs, estimated from its sizes before anything is
// allocated (model_validate_memory.cpp). Reports, at the field of the largest part,
// a model that needs more than physical_memory_bytes(); returns the estimate.
std::uint64_t check_model_memory(const phaseless::v1::Model& m, const data_summary& data, const report_fn& add);

}  // namespace phaseless::io
