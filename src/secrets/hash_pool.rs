//! The service's password hashing: a fixed set of worker threads, each with
//! its own argon2 memory allocated once, fed from two bounded queues.
//!
//! argon2id needs 19 MiB per hash. Run on tokio's blocking pool, a guessing
//! storm starts a hash per attempt on up to 512 threads, and every thread's
//! allocator keeps its 19 MiB: gigabytes. Here at most `concurrency` hashes
//! run, in `concurrency` threads that reuse their memory, at most `queue`
//! wait, and anything more is refused at once ([`PasswordError::Busy`]).
//! Requests marked priority (a user on a network they signed in from
//! before) have a queue of their own, served first, so a storm in the
//! normal queue does not make them wait behind it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::password::{PasswordError, hash_now, verify_in};

/// What a worker runs, in its own argon2 memory; it returns how to hand
/// the result over, which the worker calls once it counts itself free again.
type Job = Box<dyn FnOnce(&mut Vec<argon2::Block>) -> Deliver + Send>;

/// Hands a finished job's result to its caller.
type Deliver = Box<dyn FnOnce() + Send>;

/// Runs password hashes with bounded concurrency and bounded queues.
/// Cheap to clone; clones share the workers. The workers stop when the
/// last clone is dropped.
#[derive(Clone, Debug)]
pub(crate) struct PasswordHasher {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

#[derive(Debug)]
struct Shared {
    queues: Mutex<Queues>,
    work: Condvar,
    concurrency: usize,
    queue: usize,
    reserve: usize,
}

struct Queues {
    priority: VecDeque<Job>,
    normal: VecDeque<Job>,
    running: usize,
    closed: bool,
}

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queues")
            .field("priority", &self.priority.len())
            .field("normal", &self.normal.len())
            .field("running", &self.running)
            .finish()
    }
}

/// Closes the queues when the last [`PasswordHasher`] goes away.
#[derive(Debug)]
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.work.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // A worker never panics while holding the lock; recover anyway.
        self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A worker: takes priority jobs first, runs each in its memory.
    fn serve(&self) {
        let mut memory = Vec::new();
        loop {
            let job = {
                let mut queues = self.lock();
                loop {
                    if let Some(job) = queues.priority.pop_front().or_else(|| queues.normal.pop_front()) {
                        queues.running += 1;
                        break job;
                    }
                    if queues.closed {
                        return;
                    }
                    queues = self.work.wait(queues).unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            let deliver = job(&mut memory);
            self.lock().running -= 1;
            deliver();
        }
    }
}

/// The nice value of the hashing threads.
pub(super) const HASH_NICE: i32 = 19;

/// Lowers the calling thread's scheduling priority, so that a hash never
/// holds a core that a request needs: with every core hashing (a login rush
/// or a guessing storm), session checks and second-factor steps still run
/// at once, and hashes take the time that is left. Linux sets the nice value
/// per thread; elsewhere this does nothing.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASH_NICE) {
        tracing::warn!(%error, "cannot lower the priority of a password hashing thread");
    }
}

impl PasswordHasher {
    /// `concurrency` (at least 1) worker threads and `queue` waiting places;
    /// a quarter of the queue again (at least 1) is the priority queue.
    pub(crate) fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues {
                priority: VecDeque::new(),
                normal: VecDeque::new(),
                running: 0,
                closed: false,
            }),
            work: Condvar::new(),
            concurrency,
            queue,
            reserve: queue.div_ceil(4).max(1),
        });
        for n in 0..concurrency {
            let worker = Arc::clone(&shared);
            let spawned = std::thread::Builder::new().name(format!("keygate-hash-{n}")).spawn(move || {
                yield_to_requests();
                worker.serve();
            });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Self { _owner: Arc::new(Owner(Arc::clone(&shared))), shared }
    }

    /// Requests waiting for a worker now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        let queues = self.shared.lock();
        queues.priority.len() + queues.normal.len()
    }

    /// Hashes running now.
    #[cfg(test)]
    fn running(&self) -> usize {
        self.shared.lock().running
    }

    /// Queues `work`, or refuses at once when its queue is full and no
    /// worker is free. A request whose caller went away before a worker
    /// reached it is skipped.
    async fn run<T: Send + 'static>(
        &self,
        priority: bool,
        work: impl FnOnce(&mut Vec<argon2::Block>) -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            if done.is_closed() {
                return Box::new(|| ());
            }
            let outcome = work(memory);
            Box::new(move || {
                let _ = done.send(outcome);
            })
        });
        {
            let mut queues = self.shared.lock();
            // Jobs that idle workers are about to take do not wait.
            let idle = self.shared.concurrency.saturating_sub(queues.running);
            let waiting = queues.priority.len() + queues.normal.len();
            let (full, queue) = if priority {
                (queues.priority.len() >= self.shared.reserve + idle, &mut queues.priority)
            } else {
                (waiting >= self.shared.queue + idle, &mut queues.normal)
            };
            if full {
                drop(queues);
                metrics::counter!("keygate_password_hash_rejected_total").increment(1);
                return Err(PasswordError::Busy);
            }
            queue.push_back(job);
        }
        self.shared.work.notify_one();
        self.report();
        let outcome = result.await.map_err(|_| PasswordError::Busy)?;
        self.report();
        outcome
    }

    /// Publishes the queue depth and the hashes running, for `/metrics`.
    fn report(&self) {
        let (waiting, running) = {
            let queues = self.shared.lock();
            (queues.priority.len() + queues.normal.len(), queues.running)
        };
        metrics::gauge!("keygate_password_hash_queue_depth").set(waiting as f64);
        metrics::gauge!("keygate_password_hash_running").set(running as f64);
    }

    /// Hashes a new password (argon2id, random salt), within the bound.
    pub(crate) async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.run(true, move |_| hash_now(&password)).await
    }

    /// Checks a password against a stored hash (`None`: an unknown user,
    /// checked against a dummy hash in the same time), within the bound;
    /// `priority` requests use the priority queue. Known and unknown users
    /// are admitted alike.
    pub(crate) async fn verify(
        &self,
        stored: Option<String>,
        password: String,
        priority: bool,
    ) -> Result<bool, PasswordError> {
        self.run(priority, move |memory| verify_in(stored.as_deref(), &password, memory)).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn slow(_: &mut Vec<argon2::Block>) -> Result<(), PasswordError> {
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    async fn until(hasher: &PasswordHasher, running: usize, waiting: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while (hasher.running(), hasher.waiting()) != (running, waiting) {
            assert!(Instant::now() < deadline, "stuck at {:?}", (hasher.running(), hasher.waiting()));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Holds the jobs that wait on it until the test opens it, so the
    /// queue's state is fixed while the test looks at it, whatever the load.
    #[derive(Default)]
    struct Gate(Mutex<bool>, Condvar);

    impl Gate {
        fn wait(&self) {
            let mut open = self.0.lock().unwrap();
            while !*open {
                open = self.1.wait(open).unwrap();
            }
        }

        fn open(&self) {
            *self.0.lock().unwrap() = true;
            self.1.notify_all();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once_and_priority_goes_first() {
        let hasher = PasswordHasher::new(1, 2);
        let gate = Arc::new(Gate::default());
        let done = Arc::new(Mutex::new(Vec::new()));
        let job = |label: &'static str| {
            let (gate, done) = (Arc::clone(&gate), Arc::clone(&done));
            move |_: &mut Vec<argon2::Block>| {
                gate.wait();
                done.lock().unwrap().push(label);
                Ok(())
            }
        };
        // One running and two waiting fill it, all held at the gate.
        let held: Vec<_> = (0..3)
            .map(|_| {
                let (hasher, job) = (hasher.clone(), job("normal"));
                tokio::spawn(async move { hasher.run(false, job).await })
            })
            .collect();
        until(&hasher, 1, 2).await;
        // A third normal request is refused without waiting for a slot: none
        // can free up while the gate is shut.
        let refused =
            tokio::time::timeout(Duration::from_secs(10), hasher.verify(None, "x".into(), false)).await;
        assert!(matches!(refused, Ok(Err(PasswordError::Busy))), "{refused:?}");
        // A priority request is still taken, and jumps the queue: it runs
        // right after the running job, before the two that were waiting.
        let priority = tokio::spawn({
            let (hasher, job) = (hasher.clone(), job("priority"));
            async move { hasher.run(true, job).await }
        });
        until(&hasher, 1, 3).await;
        gate.open();
        priority.await.unwrap().unwrap();
        for task in held {
            task.await.unwrap().unwrap();
        }
        assert_eq!(*done.lock().unwrap(), ["normal", "priority", "normal", "normal"]);
        assert_eq!((hasher.waiting(), hasher.running()), (0, 0));
        let hash = hash_now("pw").unwrap();
        assert!(hasher.verify(Some(hash), "pw".into(), true).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_a_queue_idle_workers_still_take_work() {
        let hasher = PasswordHasher::new(2, 0);
        let hash = hash_now("pw").unwrap();
        assert!(hasher.verify(Some(hash.clone()), "pw".into(), false).await.unwrap());
        let a = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run(false, slow).await }
        });
        until(&hasher, 1, 0).await;
        assert!(hasher.verify(Some(hash), "pw".into(), false).await.unwrap(), "the second worker");
        a.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn workers_stop_with_the_last_handle() {
        let hasher = PasswordHasher::new(2, 4);
        let shared = Arc::clone(&hasher.shared);
        drop(hasher);
        assert!(shared.lock().closed);
    }

    /// The nice values of this process's threads with this name.
    #[cfg(target_os = "linux")]
    fn nice_of_threads_named(name: &str) -> Vec<i32> {
        let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
        tasks
            .filter_map(Result::ok)
            .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
            .filter_map(|t| {
                let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
                // Field 19 (nice) is the 17th after the parenthesised name.
                stat[stat.rfind(')')? + 2..].split_whitespace().nth(16)?.parse().ok()
            })
            .collect()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_yield_the_cores_to_requests() {
        let hasher = PasswordHasher::new(2, 4);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut nice = Vec::new();
        while nice.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            nice =
                [nice_of_threads_named("keygate-hash-0"), nice_of_threads_named("keygate-hash-1")].concat();
        }
        // Other tests' workers carry the same names: every one counts.
        assert!(
            nice.len() >= 2 && nice.iter().all(|&n| n == HASH_NICE),
            "workers at the lowered priority: {nice:?}"
        );
        drop(hasher);
    }
}
