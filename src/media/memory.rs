//! How the process's allocator is set up for media, and when it gives memory back.
//!
//! Measured with `tessera-bench soak` (2,000 join/leave cycles, 4 peers at a time; the figures are in
//! `docs/benchmarks.md`): with glibc's defaults the server's RSS wandered between 230 and 390 MiB
//! and kept growing, while malloc had under 10 MB in use. Video frames (345 KiB at 360p, 1.4 MiB
//! at 720p) are above glibc's initial 128 KiB mmap threshold, but glibc raises that threshold to
//! the size of every mmapped block freed, so after the first frames they came from the heap of
//! whichever of the dozens of streaming threads allocated them; each thread's arena kept its
//! freed frames and `malloc_trim` could not give them back. Fixing the thresholds keeps large
//! buffers in mmap (returned on free): RSS stayed at 53–55 MiB over the same soak, at no
//! measurable CPU cost. jemalloc and `MALLOC_ARENA_MAX=2` were measured too and did less.

/// Pins glibc's mmap and trim thresholds at 128 KiB for the whole process (see the module
/// docs). Call once, early; later calls change nothing.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const THRESHOLD: std::ffi::c_int = 128 * 1024;
        // SAFETY: mallopt only sets allocator parameters; any value is accepted or refused.
        let ok = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD) == 1
        };
        if !ok {
            tracing::warn!("glibc refused the malloc thresholds; memory may grow under churn");
        }
    }
}

/// Hands memory that glibc's allocator holds but no longer uses back to the system. Called when
/// a participant leaves and when a room's pipeline is freed.
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it takes each arena's lock itself.
    unsafe {
        libc::malloc_trim(0);
    }
}
