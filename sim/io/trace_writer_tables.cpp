// The trace's datasets: projections' weight snapshots, activity reports, metrics and
// record tables, declared before streaming starts and appended to while a run goes.
// (The file's lifecycle and crash-safety contract: trace_writer.cpp.)
#include <algorithm>
#include <string>

#include "sim/core/errors.hpp"
#include "sim/io/trace_writer_impl.hpp"

namespace phaseless::io {


void trace_writer::add_projection(const std::string& name, const std::string& pre,
                                  const std::string& post, std::uint32_t n_post,
                                  std::uint32_t n_pre, bool bias) {
  impl& m = *impl_;
  m.require_structure_phase("add_projection()");
  check_name(m.file, "projection", name);
  if (m.projections.count(name) != 0) m.bug("projection '" + name + "' added twice");
  if (n_post == 0 || n_pre == 0) m.bug("projection '" + name + "' has an empty weight matrix");
  const std::string base = "/weights/" + name;
  h5::handle weights = h5::own(H5Gopen2(m.f.get(), "weights", H5P_DEFAULT), H5Gclose,
                               m.at("open /weights"));
  h5::handle g = m.group(weights.get(), name, base);
  m.attr(g.get(), "pre", pre);
  m.attr(g.get(), "post", post);
  h5::handle snaps = m.group(g.get(), "snapshots", base + "/snapshots");
  projection_sets p;
  p.has_bias = bias;
  p.samples = m.appendable(snaps.get(), "samples", base + "/snapshots/samples", H5T_STD_U64LE,
                           H5T_NATIVE_UINT64, {});
  // One snapshot per chunk: a snapshot is written and read as a whole.
  p.data = m.appendable(snaps.get(), "data", base + "/snapshots/data", m.real_type,
                        H5T_NATIVE_DOUBLE, {n_post, n_pre}, 1);
  if (bias)
    p.bias = m.appendable(snaps.get(), "bias", base + "/snapshots/bias", m.real_type,
                          H5T_NATIVE_DOUBLE, {n_post}, 1);
  m.projections.emplace(name, std::move(p));
}

void trace_writer::add_report(const report_spec& r) {
  impl& m = *impl_;
  m.require_structure_phase("add_report()");
  check_name(m.file, "population", r.population);
  if (m.reports.count(r.population) != 0) m.bug("report '" + r.population + "' added twice");
  if (r.nodes == 0 || r.elements.empty()) m.bug("report '" + r.population + "' is empty");
  const std::string base = "/report/" + r.population;
  const hsize_t k = r.elements.size();
  const hsize_t width = hsize_t{r.nodes} * k;
  h5::handle report = h5::own(H5Gopen2(m.f.get(), "report", H5P_DEFAULT), H5Gclose,
                              m.at("open /report"));
  h5::handle g = m.group(report.get(), r.population, base);
  report_sets s;
  s.data = m.appendable(g.get(), "data", base + "/data", m.real_type, H5T_NATIVE_DOUBLE, {width});
  m.attr(s.data.ds.get(), "units", std::string("1"));   // states and errors are dimensionless
  if (r.sample_step == 0) m.bug("report '" + r.population + "' has sample_step 0");
  s.step = r.sample_step;

  h5::handle map = m.group(g.get(), "mapping", base + "/mapping");
  std::string names;
  for (std::size_t i = 0; i < r.elements.size(); ++i) names += (i ? "," : "") + r.elements[i];
  m.attr(map.get(), "element_names", names);
  std::vector<std::uint64_t> node_ids(r.nodes), pointers(r.nodes + std::size_t{1});
  std::vector<std::uint32_t> element_ids(width);
  for (std::uint64_t n = 0; n <= r.nodes; ++n) {
    pointers[n] = n * k;
    if (n == r.nodes) break;
    node_ids[n] = n;   // SONATA: 0-based within the population
    for (std::uint32_t e = 0; e < k; ++e) element_ids[n * k + e] = e;
  }
  m.fixed_dataset(map.get(), "node_ids", base + "/mapping/node_ids", H5T_STD_U64LE,
                  H5T_NATIVE_UINT64, node_ids.size(), node_ids.data());
  {
    h5::handle ids = h5::own(H5Dopen2(map.get(), "node_ids", H5P_DEFAULT), H5Dclose, m.at("open node_ids"));
    const std::int8_t sorted = 1;   // SONATA bool: i8 0/1
    m.attr_raw(ids.get(), "sorted", H5T_STD_I8LE, H5T_NATIVE_INT8, {}, &sorted);
  }
  m.fixed_dataset(map.get(), "index_pointers", base + "/mapping/index_pointers", H5T_STD_U64LE,
                  H5T_NATIVE_UINT64, pointers.size(), pointers.data());
  m.fixed_dataset(map.get(), "element_ids", base + "/mapping/element_ids", H5T_STD_U32LE,
                  H5T_NATIVE_UINT32, element_ids.size(), element_ids.data());
  // SONATA time = [start, stop, step] in samples, stop exclusive: frames = (stop - start) / step.
  // Compact layout keeps its values in the object header, i.e. in metadata, which reaches
  // the disk only with a flush, together with the frames it counts.
  {
    const std::string what = m.at("write " + base + "/mapping/time");
    const hsize_t three = 3;
    h5::handle space = h5::own(H5Screate_simple(1, &three, nullptr), H5Sclose, what);
    h5::handle dcpl = m.creation_plist(H5P_DATASET_CREATE, base + "/mapping/time");
    h5::check(H5Pset_layout(dcpl.get(), H5D_COMPACT), what);
    s.time = h5::own(H5Dcreate2(map.get(), "time", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, dcpl.get(),
                                H5P_DEFAULT),
                     H5Dclose, what);
    const double empty[3] = {double(s.step), double(s.step), double(s.step)};   // no frames yet
    h5::check(H5Dwrite(s.time.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, empty), what);
    m.attr(s.time.get(), "units", std::string("sample"));
  }
  s.samples = m.appendable(map.get(), "samples", base + "/mapping/samples", H5T_STD_U64LE,
                           H5T_NATIVE_UINT64, {});
  s.ticks = m.appendable(map.get(), "ticks", base + "/mapping/ticks", H5T_STD_I64LE,
                         H5T_NATIVE_INT64, {});
  m.reports.emplace(r.population, std::move(s));
}

void trace_writer::add_metric(const std::string& path) {
  impl& m = *impl_;
  m.require_structure_phase("add_metric");
  std::string at = "/metrics";
  std::size_t from = 0;
  for (std::size_t slash; (slash = path.find('/', from)) != std::string::npos; from = slash + 1) {
    const std::string name = path.substr(from, slash - from);
    const std::string parent = at;
    at += "/" + name;
    h5::handle p = h5::own(H5Gopen2(m.f.get(), parent.c_str(), H5P_DEFAULT), H5Gclose, m.at("open " + parent));
    if (H5Lexists(p.get(), name.c_str(), H5P_DEFAULT) <= 0) m.group(p.get(), name, at);
  }
  h5::handle g = h5::own(H5Gopen2(m.f.get(), at.c_str(), H5P_DEFAULT), H5Gclose, m.at("open " + at));
  const std::string leaf = path.substr(from);
  m.extra_metrics.push_back(
      m.appendable(g.get(), leaf, at + "/" + leaf, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}));
}

void trace_writer::add_table(const table_spec& t) {
  impl& m = *impl_;
  m.require_structure_phase("add_table()");
  if (t.path.empty() || t.path[0] != '/' || m.tables.count(t.path)) m.bug("add_table: bad or repeated path " + t.path);
  // Opens the group at an absolute path, creating the missing ones along it.
  const auto groups = [&m](const std::string& path) {
    std::string at;
    for (std::size_t from = 1, slash = 0; slash != std::string::npos; from = slash + 1) {
      slash = path.find('/', from);
      const std::string name = path.substr(from, slash == std::string::npos ? std::string::npos : slash - from);
      const std::string parent = at.empty() ? "/" : at;
      at += "/" + name;
      h5::handle p = h5::own(H5Gopen2(m.f.get(), parent.c_str(), H5P_DEFAULT), H5Gclose, m.at("open " + parent));
      if (H5Lexists(p.get(), name.c_str(), H5P_DEFAULT) <= 0) m.group(p.get(), name, at);
    }
    return h5::own(H5Gopen2(m.f.get(), path.c_str(), H5P_DEFAULT), H5Gclose, m.at("open " + path));
  };
  h5::handle g = groups(t.path);
  for (const auto& [name, text] : t.text_attrs) m.attr(g.get(), name.c_str(), text);
  for (const auto& [name, v] : t.number_attrs) m.attr(g.get(), name.c_str(), v);
  for (const auto& [name, v] : t.fixed) {
    const auto slash = name.rfind('/');
    h5::handle at = groups(slash == std::string::npos ? t.path : t.path + "/" + name.substr(0, slash));
    m.fixed_dataset(at.get(), name.substr(slash + 1), t.path + "/" + name, H5T_STD_U64LE, H5T_NATIVE_UINT64,
                    v.size(), v.data());
  }
  auto& cols = m.tables[t.path];
  for (const auto& c : t.columns) {
    const bool real = c.kind == column_kind::real;
    const hid_t file_type = real ? m.real_type
                            : c.kind == column_kind::u8  ? H5T_STD_U8LE
                            : c.kind == column_kind::u32 ? H5T_STD_U32LE
                            : c.kind == column_kind::u64 ? H5T_STD_U64LE
                                                         : H5T_STD_I64LE;
    std::vector<hsize_t> row;
    if (c.width) row.push_back(c.width);
    cols.push_back(m.appendable(g.get(), c.name, t.path + "/" + c.name, file_type,
                                real ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, row));
  }
}

void trace_writer::append_table(const std::string& path, std::span<const std::span<const double>> columns,
                                std::uint64_t rows) {
  impl& m = *impl_;
  const auto it = m.tables.find(path);
  if (it == m.tables.end()) m.bug("append_table to unknown table '" + path + "'");
  if (columns.size() != it->second.size()) m.bug("append_table '" + path + "': wrong column count");
  std::uint64_t bytes = 0;
  for (const auto& c : columns) bytes += 8 * c.size();
  m.ensure_space(bytes, *this);
  std::vector<std::int64_t> whole;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    series& s = it->second[c];
    if (columns[c].size() != rows * s.row_size()) m.bug("append_table '" + s.path + "': wrong value count");
    if (s.mem_type == H5T_NATIVE_DOUBLE) {
      m.append(s, columns[c].data(), rows);
      continue;
    }
    whole.assign(columns[c].begin(), columns[c].end());   // exact integers
    m.append(s, whole.data(), rows);
  }
}

void trace_writer::start_streaming() { impl_->start_streaming(); }

void trace_writer::append_metrics(const metrics_row& r) {
  impl& m = *impl_;
  m.ensure_space(8 * (metric_columns.size() + r.extra.size()), *this);
  const void* values[] = {&r.samples, &r.ticks,  &r.train_loss,   &r.test_accuracy,
                          &r.test_loss, &r.events, &r.synaptic_ops, &r.wall_time};
  static_assert(std::size(values) == metric_columns.size());
  for (std::size_t i = 0; i < metric_columns.size(); ++i) m.append(m.metrics[i], values[i], 1);
  if (r.extra.size() != m.extra_metrics.size()) m.bug("append_metrics: extra values do not match add_metric");
  for (std::size_t i = 0; i < r.extra.size(); ++i) m.append(m.extra_metrics[i], &r.extra[i], 1);
}

void trace_writer::append_snapshot(const std::string& projection, std::uint64_t samples,
                                   std::span<const double> w, std::span<const double> b) {
  impl& m = *impl_;
  m.ensure_space(m.real_bytes * (w.size() + b.size()) + 8, *this);
  const auto it = m.projections.find(projection);
  if (it == m.projections.end()) m.bug("append_snapshot to unknown projection '" + projection + "'");
  projection_sets& p = it->second;
  if (w.size() != p.data.row_size())
    m.bug("append_snapshot '" + projection + "': " + std::to_string(w.size()) + " weights, expected " +
          std::to_string(p.data.row_size()));
  const std::size_t want_b = p.has_bias ? p.bias.row_size() : 0;
  if (b.size() != want_b)
    m.bug("append_snapshot '" + projection + "': " + std::to_string(b.size()) + " biases, expected " +
          std::to_string(want_b));
  m.append(p.data, w.data(), 1);
  if (p.has_bias) m.append(p.bias, b.data(), 1);
  m.append(p.samples, &samples, 1);
}

void trace_writer::append_report(const std::string& population, std::uint64_t samples,
                                 std::int64_t tick, std::span<const double> values) {
  impl& m = *impl_;
  m.ensure_space(m.real_bytes * values.size() + 16, *this);
  const auto it = m.reports.find(population);
  if (it == m.reports.end()) m.bug("append_report to unknown population '" + population + "'");
  report_sets& r = it->second;
  if (values.size() != r.data.row_size())
    m.bug("append_report '" + population + "': " + std::to_string(values.size()) +
          " values, expected " + std::to_string(r.data.row_size()));
  if (r.samples.rows == 0) r.start = samples;
  if (samples != r.start + r.samples.rows * r.step)
    m.bug("append_report '" + population + "': frame at sample " + std::to_string(samples) +
          " breaks the step of " + std::to_string(r.step) + " samples");
  m.append(r.data, values.data(), 1);
  m.append(r.ticks, &tick, 1);
  m.append(r.samples, &samples, 1);
  const double time[3] = {double(r.start), double(r.start + r.samples.rows * r.step), double(r.step)};
  h5::check(H5Dwrite(r.time.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, time),
            m.at("write /report/" + population + "/mapping/time"));
}
}  // namespace phaseless::io
