#include "sim/core/executor.hpp"

#include <immintrin.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace phaseless::core {

namespace {

// Waits until `a` differs from `old`: spins first (a window of a small network takes
// microseconds, far less than putting a thread to sleep and waking it), then blocks.
template <class T>
void await_change(const std::atomic<T>& a, T old) {
  for (int k = 0; k < 1000; ++k) {   // a pause is ~40-140 cycles: a few microseconds in all
    if (a.load(std::memory_order_acquire) != old) return;
    _mm_pause();
  }
  for (int k = 0; k < 16; ++k) {   // then let another thread (perhaps the one awaited) run
    if (a.load(std::memory_order_acquire) != old) return;
    std::this_thread::yield();
  }
  while (a.load(std::memory_order_acquire) == old) a.wait(old, std::memory_order_acquire);
}

}  // namespace

// Workers 1..n-1 live for the executor's lifetime as tasks on an Asio thread pool;
// each parallel_for is one generation: the caller publishes the job, bumps the
// generation, runs share 0 itself, and waits until every worker has reported.
struct executor::pool {
  explicit pool(unsigned n) : threads(n) {}
  boost::asio::thread_pool threads;
  std::atomic<std::uint64_t> generation{0};
  std::atomic<unsigned> remaining{0};
  std::atomic<bool> stop{false};
  unsigned n_job = 0;
  const std::function<void(unsigned)>* job = nullptr;
  std::vector<std::exception_ptr>* errors = nullptr;
};

executor::executor(unsigned threads) : threads_(threads == 0 ? 1 : threads) {
  // The calling thread runs one share itself, so the pool needs one thread fewer.
  if (threads_ <= 1) return;
  pool_ = std::make_unique<pool>(threads_ - 1);
  pool* p = pool_.get();
  for (unsigned i = 1; i < threads_; ++i)
    boost::asio::post(p->threads, [p, i] {
      std::uint64_t seen = 0;
      for (;;) {
        await_change(p->generation, seen);
        seen = p->generation.load(std::memory_order_acquire);
        if (p->stop.load(std::memory_order_acquire)) return;
        if (i < p->n_job) {
          try {
            (*p->job)(i);
          } catch (...) {
            (*p->errors)[i] = std::current_exception();
          }
        }
        if (p->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) p->remaining.notify_one();
      }
    });
}

executor::~executor() {
  if (!pool_) return;
  pool_->stop.store(true, std::memory_order_release);
  pool_->generation.fetch_add(1, std::memory_order_acq_rel);
  pool_->generation.notify_all();
  pool_->threads.join();
}

void executor::parallel_for(unsigned n, const std::function<void(unsigned)>& f, bool here) {
  if (n == 1) {   // one shard (the usual case for small networks): no bookkeeping per window
    f(0);
    return;
  }
  // Reused from window to window: a window must not pay for an allocation.
  errors_.assign(n, nullptr);
  if (!pool_ || here) {
    for (unsigned i = 0; i < n; ++i) {
      try {
        f(i);
      } catch (...) {
        errors_[i] = std::current_exception();
      }
    }
  } else {
    pool& p = *pool_;
    p.job = &f;
    p.n_job = n;
    p.errors = &errors_;
    p.remaining.store(threads_ - 1, std::memory_order_relaxed);
    p.generation.fetch_add(1, std::memory_order_acq_rel);   // publishes the job
    p.generation.notify_all();
    for (unsigned i = 0; i < n; i = i == 0 ? threads_ : i + 1) {   // share 0, and any beyond the pool
      try {
        f(i);
      } catch (...) {
        errors_[i] = std::current_exception();
      }
    }
    for (unsigned r; (r = p.remaining.load(std::memory_order_acquire)) != 0;) await_change(p.remaining, r);
  }
  for (auto& e : errors_)
    if (e) std::rethrow_exception(e);
}

}  // namespace phaseless::core
