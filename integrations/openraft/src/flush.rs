// SPDX-License-Identifier: MIT
//! The flusher: one thread that calls openraft's flush callbacks once the
//! entries they cover are durable.
//!
//! `append` writes the entries without waiting and queues the callback
//! here; the thread takes every queued callback at once, waits until the
//! highest of their indexes is durable (`Wal::wait_durable`, which joins or
//! leads the log's group commit, so one fdatasync covers them all and any
//! other appender's), and calls them in the order they were queued. A
//! barrier lets `truncate` and `purge` wait until every earlier callback
//! was called, so no callback waits for a record that a truncation removed.

use crate::error::to_io_error;
use nano_wal::Wal;
use openraft::storage::LogFlushed;
use openraft::RaftTypeConfig;
use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

enum Job<C: RaftTypeConfig> {
    /// Call `done` once the stream's record `index` is durable.
    Flush { index: u64, done: LogFlushed<C> },
    /// Answer once every earlier job is done.
    Barrier(mpsc::SyncSender<()>),
}

pub(crate) struct Flusher<C: RaftTypeConfig> {
    jobs: Option<mpsc::Sender<Job<C>>>,
    thread: Option<JoinHandle<()>>,
}

impl<C: RaftTypeConfig> Flusher<C> {
    pub(crate) fn start(wal: Arc<Wal>) -> io::Result<Self> {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("nwal-raft-flush".into())
            .spawn(move || run(&wal, &queue))?;
        Ok(Flusher {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queue `done`, to be called once the record `index` is durable.
    pub(crate) fn flush(&self, index: u64, done: LogFlushed<C>) {
        let Some(jobs) = self.sender() else {
            return done.log_io_completed(Err(stopped()));
        };
        if let Err(mpsc::SendError(Job::Flush { done, .. })) = jobs.send(Job::Flush { index, done })
        {
            done.log_io_completed(Err(stopped()));
        }
    }

    /// Wait until every callback queued before is called.
    pub(crate) fn barrier(&self) -> io::Result<()> {
        let (ack, acked) = mpsc::sync_channel(1);
        self.sender()
            .ok_or_else(stopped)?
            .send(Job::Barrier(ack))
            .map_err(|_| stopped())?;
        acked.recv().map_err(|_| stopped())
    }
}

impl<C: RaftTypeConfig> Flusher<C> {
    /// Let the thread finish the queued jobs, and wait until it has ended
    /// (later `flush` calls answer with an error; idempotent).
    pub(crate) fn stop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn sender(&self) -> Option<&mpsc::Sender<Job<C>>> {
        self.jobs.as_ref()
    }
}

impl<C: RaftTypeConfig> Drop for Flusher<C> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn stopped() -> io::Error {
    io::Error::other("the log store's flusher thread has stopped")
}

fn run<C: RaftTypeConfig>(wal: &Wal, queue: &mpsc::Receiver<Job<C>>) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        jobs.extend(queue.try_iter());
        let target = jobs
            .iter()
            .filter_map(|job| match job {
                Job::Flush { index, .. } => Some(*index),
                Job::Barrier(_) => None,
            })
            .max();
        // An index at or below the durable index (also one purged since)
        // returns at once; the barriers keep truncations from removing a
        // queued index, so `IndexNotFound` means a misuse of the store.
        let outcome = match target {
            Some(index) => wal.wait_durable(index, None).map(|_| ()),
            None => Ok(()),
        };
        for job in jobs {
            match job {
                Job::Flush { done, .. } => {
                    done.log_io_completed(outcome.as_ref().map(|_| ()).map_err(to_io_error))
                }
                Job::Barrier(ack) => {
                    let _ = ack.send(());
                }
            }
        }
    }
}
