//! When the system refuses memory: one clear sentence and exit 1, instead of Rust's
//! default abort (SIGABRT with a backtrace). Checkpoints are replaced atomically, so what
//! was saved before stays whole.

use std::alloc::{GlobalAlloc, Layout};
use std::io::Write;

/// An allocator that reports a refused allocation and exits.
pub struct ExitOnOutOfMemory<A>(pub A);

// SAFETY: every call is passed to the inner allocator unchanged; only a null result (a
// refusal) is handled, by leaving the process.
unsafe impl<A: GlobalAlloc> GlobalAlloc for ExitOnOutOfMemory<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc(layout) };
        if p.is_null() {
            refused(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if p.is_null() {
            refused(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if p.is_null() {
            refused(new_size);
        }
        p
    }
}

/// Says what happened without allocating (the message is formatted on the stack) and
/// exits with the code of a failure while running.
#[cold]
fn refused(bytes: usize) -> ! {
    let mut buf = [0u8; 320];
    let len = buf.len();
    let mut w = &mut buf[..];
    let _ = write!(
        w,
        "\nerror: out of memory: the system refused {bytes} more bytes. Lower --batch-size or \
         --threads, or free memory, and run again (checkpoints saved so far are whole)\n"
    );
    let n = len - w.len();
    let _ = std::io::stderr().write_all(&buf[..n]);
    std::process::exit(crate::error::EXIT_FAILURE)
}
