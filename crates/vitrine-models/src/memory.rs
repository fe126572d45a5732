//! Memory for model weights.

/// An empty vector whose memory the kernel is asked to back with 2 MB pages. Why: a forward pass streams
/// tens of MB of weights (~100 MB per LLM token); with 4 KB pages the TLB misses cap the read rate well below what the
/// memory delivers (measured 7.8 GB/s; numpy reads the same memory at 15 GB/s on 4 KB pages and 23 GB/s
/// on huge ones).
pub(crate) fn huge_page_vec<T>(capacity: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(capacity);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + capacity * std::mem::size_of::<T>();
        let (first, last) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if last > first {
            // SAFETY: advice only, on whole pages inside the vector's own (not yet touched) allocation;
            // failure just leaves normal pages.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    v
}
