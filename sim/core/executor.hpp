#pragma once
// Runs the shards of one window in parallel. The only part of the project that
// knows about Boost.Asio (executor.cpp). Asio never decides simulated-time order:
// it only runs independent shard steps; results are merged in shard order after.
#include <functional>
#include <exception>
#include <memory>
#include <vector>

namespace phaseless::core {

class executor {
 public:
  explicit executor(unsigned threads);
  ~executor();
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  unsigned threads() const { return threads_; }

  // Runs f(0), ..., f(n-1) and returns when all are done. If any throw, every task
  // still finishes, then the exception of the lowest index is rethrown here, so a
  // failure is reported the same way at any thread count.
  // here: every task runs on the calling thread, in index order, with the same errors
  // (the engine's choice when the workers' cores are busy with other jobs).
  void parallel_for(unsigned n, const std::function<void(unsigned)>& f, bool here = false);

 private:
  unsigned threads_;
  std::vector<std::exception_ptr> errors_;   // by task of the current parallel_for
  struct pool;
  std::unique_ptr<pool> pool_;
};

}  // namespace phaseless::core
