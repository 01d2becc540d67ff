//! `Batcher`: one model's inference thread, fed by a bounded queue.
//!
//! Texts from concurrent requests are merged into one forward pass: the first waiting request
//! opens a batch, others join it until the token budget is full or the short wait window ends.
//! While the model works on one batch the next one gathers, so under load batches fill without
//! waiting. A full queue refuses new work at once (the caller answers 429) instead of letting
//! latency grow without bound, and work whose caller went away (its receiver dropped, as when a
//! client disconnects) is dropped before it reaches the model.
//!
//! Everything else a model does (images, audio and video files) runs on the same thread as a
//! task, in arrival order, so one model never has two forward passes competing for the cores.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kin_embed::{Embedder, Embeddings};
use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// Inputs that can share a forward pass with other requests' inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Sequences from `Embedder::tokenize` or `wrap_tokens`, batched by token budget.
    Tokens(Vec<Vec<u32>>),
    /// Texts for a model without a tokenizer of its own (a remote API), batched by count.
    Texts(Vec<String>),
}

impl Work {
    fn inputs(&self) -> usize {
        match self {
            Work::Tokens(t) => t.len(),
            Work::Texts(t) => t.len(),
        }
    }

    /// What the work costs against the batch budget: tokens, or inputs for texts.
    fn cost(&self) -> usize {
        match self {
            Work::Tokens(t) => t.iter().map(Vec::len).sum(),
            Work::Texts(t) => t.len(),
        }
    }
}

/// The queue holds as many inputs as it may; try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

/// How batches are formed.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Inputs that may wait (queued, not yet taken by the model).
    pub queue_inputs: usize,
    /// How long a batch stays open for other requests to join.
    pub wait: Duration,
    /// Most tokens in one merged batch (most texts, for texts).
    pub tokens: usize,
}

type Reply = oneshot::Sender<kin_embed::Result<Embeddings>>;
type Task = Box<dyn FnOnce(&dyn Embedder) + Send>;

enum Job {
    Batch { work: Work, reply: Reply },
    Task { run: Task, inputs: usize },
}

impl Job {
    fn inputs(&self) -> usize {
        match self {
            Job::Batch { work, .. } => work.inputs(),
            Job::Task { inputs, .. } => *inputs,
        }
    }
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    inputs: usize,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    config: BatchConfig,
    metrics: Arc<Metrics>,
}

/// A model with its inference thread. Dropping the last handle stops the thread once the queue
/// is empty.
pub struct Batcher {
    model: Arc<dyn Embedder>,
    shared: Arc<Shared>,
}

impl Batcher {
    pub fn start(model: Arc<dyn Embedder>, config: BatchConfig, metrics: Arc<Metrics>) -> Batcher {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), ready: Condvar::new(), config, metrics });
        let (thread_model, thread_shared) = (model.clone(), shared.clone());
        std::thread::Builder::new()
            .name(format!("kin-model-{}", model.name()))
            .spawn(move || run(thread_model.as_ref(), &thread_shared))
            .expect("spawning a model thread");
        Batcher { model, shared }
    }

    pub fn model(&self) -> &Arc<dyn Embedder> {
        &self.model
    }

    /// Queues inputs that may be merged with other requests'; the receiver gets one vector per
    /// input, in order.
    pub fn submit(&self, work: Work) -> Result<oneshot::Receiver<kin_embed::Result<Embeddings>>, QueueFull> {
        let (reply, receiver) = oneshot::channel();
        self.push(Job::Batch { work, reply })?;
        Ok(receiver)
    }

    /// Queues a task that runs alone on the model's thread (`inputs` counts against the queue).
    /// It is skipped if the receiver is gone by the time its turn comes.
    pub fn run<T, F>(&self, inputs: usize, task: F) -> Result<oneshot::Receiver<T>, QueueFull>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Embedder) -> T + Send + 'static,
    {
        let (reply, receiver) = oneshot::channel();
        let metrics = self.shared.metrics.clone();
        let run: Task = Box::new(move |model| {
            if reply.is_closed() {
                metrics.request_dropped();
                return;
            }
            let _ = reply.send(task(model));
        });
        self.push(Job::Task { run, inputs })?;
        Ok(receiver)
    }

    fn push(&self, job: Job) -> Result<(), QueueFull> {
        let n = job.inputs();
        let mut queue = self.shared.queue.lock();
        if queue.inputs > 0 && queue.inputs + n > self.shared.config.queue_inputs {
            self.shared.metrics.request_rejected();
            return Err(QueueFull);
        }
        queue.inputs += n;
        queue.jobs.push_back(job);
        self.shared.metrics.queue_depth_add(n as i64);
        drop(queue);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Inputs waiting now.
    pub fn queued(&self) -> usize {
        self.shared.queue.lock().inputs
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.shared.queue.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

/// The model thread: take a job; for texts, gather a batch; run it.
fn run(model: &dyn Embedder, shared: &Shared) {
    loop {
        let mut queue = shared.queue.lock();
        while queue.jobs.is_empty() && !queue.closed {
            shared.ready.wait(&mut queue);
        }
        let Some(first) = queue.jobs.pop_front() else { return };
        let mut taken = first.inputs();
        let batch = match first {
            Job::Task { run, .. } => {
                queue.inputs -= taken;
                drop(queue);
                shared.metrics.queue_depth_add(-(taken as i64));
                run(model);
                continue;
            }
            Job::Batch { work, reply } => gather(shared, &mut queue, (work, reply), &mut taken),
        };
        queue.inputs -= taken;
        drop(queue);
        shared.metrics.queue_depth_add(-(taken as i64));
        embed_batch(model, shared, batch);
    }
}

/// Jobs that join `first`, in arrival order, until the budget is spent, the window closes, or a
/// task (which must run alone) is next in line.
fn gather(
    shared: &Shared,
    queue: &mut parking_lot::MutexGuard<'_, Queue>,
    first: (Work, Reply),
    taken: &mut usize,
) -> Vec<(Work, Reply)> {
    let deadline = Instant::now() + shared.config.wait;
    let budget = shared.config.tokens;
    let mut cost = first.0.cost();
    let mut batch = vec![first];
    loop {
        while let Some(Job::Batch { work, .. }) = queue.jobs.front() {
            let same_kind = std::mem::discriminant(work) == std::mem::discriminant(&batch[0].0);
            if !same_kind || cost + work.cost() > budget {
                return batch;
            }
            let Some(Job::Batch { work, reply }) = queue.jobs.pop_front() else { unreachable!("front was a batch") };
            cost += work.cost();
            *taken += work.inputs();
            batch.push((work, reply));
        }
        if !queue.jobs.is_empty() || cost >= budget || queue.closed {
            return batch;
        }
        let now = Instant::now();
        if now >= deadline || shared.ready.wait_for(queue, deadline - now).timed_out() {
            // One last look: a job may have arrived with the timeout.
            if queue.jobs.front().is_none() {
                return batch;
            }
        }
    }
}

/// Runs a merged batch and hands each request its vectors. If the batch fails, each request is
/// run alone, so one bad input fails only its own request.
fn embed_batch(model: &dyn Embedder, shared: &Shared, batch: Vec<(Work, Reply)>) {
    let live: Vec<(Work, Reply)> = batch
        .into_iter()
        .filter(|(_, reply)| {
            let gone = reply.is_closed();
            if gone {
                shared.metrics.request_dropped();
            }
            !gone
        })
        .collect();
    if live.is_empty() {
        return;
    }
    let sizes: Vec<usize> = live.iter().map(|(w, _)| w.inputs()).collect();
    let total: usize = sizes.iter().sum();
    let merged = merge(live.iter().map(|(w, _)| w));
    match embed(model, &merged) {
        Ok(vectors) if vectors.len() == total => {
            shared.metrics.batch(total);
            let mut vectors = vectors.into_iter();
            for ((_, reply), n) in live.into_iter().zip(sizes) {
                let _ = reply.send(Ok(vectors.by_ref().take(n).collect()));
            }
        }
        _ if live.len() > 1 => {
            for (work, reply) in live {
                let result = embed(model, &work);
                if result.is_ok() {
                    shared.metrics.batch(work.inputs());
                }
                let _ = reply.send(result);
            }
        }
        result => {
            let (_, reply) = live.into_iter().next().expect("one job");
            let _ = reply.send(result.and_then(|v| {
                if v.len() == total {
                    Ok(v)
                } else {
                    Err(kin_embed::Error::InputShape { message: "the model returned fewer vectors than inputs".into() })
                }
            }));
        }
    }
}

fn merge<'a>(works: impl Iterator<Item = &'a Work>) -> Work {
    let mut works = works.peekable();
    match works.peek() {
        Some(Work::Texts(_)) => {
            Work::Texts(works.flat_map(|w| if let Work::Texts(t) = w { t.clone() } else { Vec::new() }).collect())
        }
        _ => Work::Tokens(works.flat_map(|w| if let Work::Tokens(t) = w { t.clone() } else { Vec::new() }).collect()),
    }
}

fn embed(model: &dyn Embedder, work: &Work) -> kin_embed::Result<Embeddings> {
    match work {
        Work::Tokens(ids) => model.embed_tokenized(ids),
        Work::Texts(texts) => model.embed_text(&texts.iter().map(String::as_str).collect::<Vec<_>>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeEmbedder;

    fn config(queue_inputs: usize, wait_ms: u64) -> BatchConfig {
        BatchConfig { queue_inputs, wait: Duration::from_millis(wait_ms), tokens: 10_000 }
    }

    fn tokens(model: &FakeEmbedder, texts: &[&str]) -> Work {
        Work::Tokens(model.tokenize(texts).unwrap())
    }

    #[tokio::test]
    async fn requests_in_the_window_share_one_forward_pass_and_get_their_own_vectors() {
        let fake = Arc::new(FakeEmbedder::new(8));
        let batcher = Batcher::start(fake.clone(), config(100, 200), Arc::new(Metrics::default()));
        let a = batcher.submit(tokens(&fake, &["alpha", "beta"])).unwrap();
        let b = batcher.submit(tokens(&fake, &["gamma"])).unwrap();
        let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        assert_eq!(fake.calls(), vec![3], "one forward pass of 3 inputs");
        assert_eq!(a, fake.embed_text(&["alpha", "beta"]).unwrap());
        assert_eq!(b, fake.embed_text(&["gamma"]).unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_up_after() {
        let fake = Arc::new(FakeEmbedder::new(4).with_delay(Duration::from_millis(300)));
        let batcher = Batcher::start(fake.clone(), config(3, 0), Arc::new(Metrics::default()));
        let first = batcher.submit(tokens(&fake, &["a"])).unwrap();
        // Wait until the model thread took the first job, so the queue is empty again.
        while batcher.queued() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let waiting = batcher.submit(tokens(&fake, &["b", "c", "d"])).unwrap();
        assert_eq!(batcher.submit(tokens(&fake, &["e"])).err(), Some(QueueFull));
        first.await.unwrap().unwrap();
        waiting.await.unwrap().unwrap();
        assert!(batcher.submit(tokens(&fake, &["e"])).is_ok());
    }

    #[tokio::test]
    async fn work_of_a_caller_that_went_away_never_reaches_the_model() {
        let fake = Arc::new(FakeEmbedder::new(4).with_delay(Duration::from_millis(200)));
        let metrics = Arc::new(Metrics::default());
        let batcher = Batcher::start(fake.clone(), config(100, 0), metrics.clone());
        let busy = batcher.submit(tokens(&fake, &["busy"])).unwrap();
        while batcher.queued() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let gone = batcher.submit(tokens(&fake, &["never", "embedded"])).unwrap();
        let gone_task = batcher.run(1, |_| 1).unwrap();
        drop((gone, gone_task));
        let kept = batcher.submit(tokens(&fake, &["kept"])).unwrap();
        busy.await.unwrap().unwrap();
        kept.await.unwrap().unwrap();
        assert_eq!(fake.calls(), vec![1, 1], "the abandoned inputs were not embedded");
        assert_eq!(metrics.dropped(), 2);
    }

    #[tokio::test]
    async fn one_bad_request_in_a_batch_fails_alone() {
        let fake = Arc::new(FakeEmbedder::new(4));
        let batcher = Batcher::start(fake.clone(), config(100, 200), Arc::new(Metrics::default()));
        let good = batcher.submit(tokens(&fake, &["fine"])).unwrap();
        let bad = batcher.submit(Work::Tokens(vec![vec![]])).unwrap();
        assert!(good.await.unwrap().is_ok());
        assert!(bad.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn tasks_run_on_the_model_thread_in_turn() {
        let fake = Arc::new(FakeEmbedder::new(4));
        let batcher = Batcher::start(fake.clone(), config(100, 0), Arc::new(Metrics::default()));
        let dim = batcher.run(1, |model| model.dim()).unwrap();
        assert_eq!(dim.await.unwrap(), 4);
    }
}
