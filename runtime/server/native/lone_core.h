// LoneCore: a ModelInfer with no other in flight runs on one core (ptx_grpc.cc's ModelInfer).
#pragma once

#ifdef __linux__
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

namespace ptx_grpc {

// At concurrency 1 each ModelInfer landed on another gRPC thread (the longest-waiting
// poller), woken on whichever core the scheduler chose, so the engine run hopped between
// cores: measured on a 2-vCPU VM, a run on the other core than the call before took
// 0.02-0.07 ms longer (cold caches), and pinning the lone calls' threads to one core cut
// the bare-engine round trip from 1.38-1.40x to 1.26-1.27x in-process (2 intra-op threads).
// So a ModelInfer that starts with no other in flight pins its thread to the lone core (the
// core the first lone call ran on); one that starts beside others goes back to the
// process's cores, so calls under load spread as before (measured: 2, 4 and 8 concurrent
// C++ clients, the same requests/s with and without, within the run-to-run spread).
// A pinned thread sleeps pinned and wakes on that core. Every kRechooseNs the pins are
// lifted and the next lone call picks again where the scheduler woke it, so a core that
// another process has taken is left within a second. Pin changes happen only on those
// transitions (a syscall each); a steady lone stream makes none. A thread started by a
// pinned one would inherit its one core: none is (the first run of a request signature
// goes through the batcher's own threads, so lazily made engine pools start there).
class LoneCore {
 public:
  // Called at start: enabled when the process may run on more than one core.
  void Start(bool enabled) {
#ifdef __linux__
    enabled_ = enabled && sched_getaffinity(0, sizeof mask_, &mask_) == 0 && CPU_COUNT(&mask_) > 1;
#else
    (void)enabled;
#endif
  }

  // A ModelInfer begins on this thread: alone, on the lone core; else off it.
  void Enter() {
    int before = in_flight_.fetch_add(1, std::memory_order_acq_rel);
#ifdef __linux__
    if (!enabled_.load(std::memory_order_relaxed)) return;
    if (before == 0) {
      Pin();
    } else {
      Unpin();
    }
#else
    (void)before;
#endif
  }

  void Leave() {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
#ifdef __linux__
    if (enabled_.load(std::memory_order_relaxed) && Now() - chosen_ns_.load() > kRechooseNs) {
      Rechoose();
    }
#endif
  }

 private:
#ifdef __linux__
  static constexpr int64_t kRechooseNs = 1'000'000'000;

  // This thread's pin: the core, the epoch it was made in, and whose list holds its id
  // (taken off as the thread ends: a dead thread's id may be another process's later).
  struct Mine {
    int cpu = -1;
    uint64_t epoch = 0;
    LoneCore* owner = nullptr;
    ~Mine() {
      if (owner != nullptr && cpu >= 0) owner->Forget(*this);
    }
  };
  static Mine& mine() {
    thread_local Mine m;
    return m;
  }
  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

  void Pin() {
    Mine& m = mine();
    int target = cpu_.load();
    if (target >= 0 && m.cpu == target && m.epoch == epoch_.load()) return;  // the steady case
    std::lock_guard<std::mutex> lock(mu_);
    target = cpu_.load();
    if (target < 0) {  // the first lone call (since a rechoose) picks: where it woke
      target = sched_getcpu();
      if (target < 0) return;
      cpu_.store(target);
      chosen_ns_.store(Now());
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(target, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) {  // not allowed here: stay as we are
      enabled_.store(false);
      return;
    }
    m.cpu = target;
    m.epoch = epoch_.load();
    m.owner = this;
    pinned_.push_back(Tid());
  }

  void Forget(const Mine& m) {
    std::lock_guard<std::mutex> lock(mu_);
    if (m.epoch == epoch_.load()) {
      pinned_.erase(std::remove(pinned_.begin(), pinned_.end(), Tid()), pinned_.end());
    }
  }

  void Unpin() {
    Mine& m = mine();
    if (m.cpu < 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (m.epoch == epoch_.load()) {  // else a rechoose has unpinned this thread already
      sched_setaffinity(0, sizeof mask_, &mask_);
      pinned_.erase(std::remove(pinned_.begin(), pinned_.end(), Tid()), pinned_.end());
    }
    m.cpu = -1;
  }

  void Rechoose() {
    std::lock_guard<std::mutex> lock(mu_);
    if (Now() - chosen_ns_.load() <= kRechooseNs) return;  // another thread just did
    for (pid_t tid : pinned_) sched_setaffinity(tid, sizeof mask_, &mask_);
    pinned_.clear();
    epoch_.fetch_add(1);
    cpu_.store(-1);
    chosen_ns_.store(Now());
  }

  cpu_set_t mask_{};  // the process's cores at start: where unpinned threads go
  std::mutex mu_;     // guards pinned_ and pin changes
  std::vector<pid_t> pinned_;
  std::atomic<int> cpu_{-1};  // the lone core; -1: the next lone call picks
  std::atomic<uint64_t> epoch_{1};
  std::atomic<int64_t> chosen_ns_{0};
#endif
  std::atomic<bool> enabled_{false};
  std::atomic<int> in_flight_{0};
};

struct InFlight {  // a ModelInfer's stay in LoneCore's count
  explicit InFlight(LoneCore* lone) : lone_(lone) { lone_->Enter(); }
  ~InFlight() { lone_->Leave(); }
  LoneCore* lone_;
};

}  // namespace ptx_grpc
