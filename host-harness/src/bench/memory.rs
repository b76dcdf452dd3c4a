//! Reading the size of a plugin's linear memories.
//!
//! extism 1.30 has no public API for it: the store, the linker and `CurrentPlugin::memory` are
//! crate-private, and a host function only runs when the plugin imports and calls it (this one
//! imports none). What it does take is a `wasmtime::Config`, and wasmtime lets a config supply
//! the linear memories themselves (`Config::with_host_memory`). [`MemoryProbe`] hands out
//! plain heap-backed memories and records how large each one grows.
//!
//! Such memories cannot reserve 4 GiB of address space with guard pages, so the probe's engine
//! is configured with no reservation and no guard: compiled code bounds-checks every access and
//! memory may move when it grows. That changes speed, not sizes (what the plugin allocates
//! does not depend on how its loads are checked), so the probe is only ever used to measure
//! memory, never for timings.

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Wasm pages are 64 KiB; allocations are aligned to a page, as wasmtime asks.
const WASM_PAGE: usize = 65_536;

/// Hands out tracked memories; see the module comment.
#[derive(Default)]
pub struct MemoryProbe {
    memories: Mutex<Vec<Arc<Tracked>>>,
    phase: Mutex<&'static str>,
}

/// What one memory grew to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRecord {
    /// The probe's phase when the memory was created (e.g. `kernel`, `plugin`).
    pub phase: &'static str,
    /// Size in bytes now, or when the memory was dropped.
    pub bytes: usize,
    /// Largest size it reached. Wasm memory never shrinks, so this equals `bytes`.
    pub peak_bytes: usize,
    /// The memory's declared minimum, in bytes: tells the modules' memories apart.
    pub minimum_bytes: usize,
}

struct Tracked {
    phase: &'static str,
    minimum_bytes: usize,
    bytes: AtomicUsize,
    peak_bytes: AtomicUsize,
}

impl Tracked {
    fn set(&self, bytes: usize) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.peak_bytes.fetch_max(bytes, Ordering::Relaxed);
    }
}

impl MemoryProbe {
    pub fn new() -> Arc<MemoryProbe> {
        Arc::new(MemoryProbe::default())
    }

    /// A wasmtime config whose linear memories this probe tracks.
    pub fn wasmtime_config(self: &Arc<Self>) -> wasmtime::Config {
        let mut config = wasmtime::Config::new();
        config
            .with_host_memory(Arc::new(Creator(Arc::clone(self))))
            .memory_reservation(0)
            .memory_guard_size(0)
            .memory_reservation_for_growth(0)
            .memory_may_move(true)
            // Copy-on-write images need mmap-backed memories; these are plain heap.
            .memory_init_cow(false);
        config
    }

    /// Forgets earlier memories and labels the ones created from now on.
    pub fn start(&self, phase: &'static str) {
        lock(&self.memories).clear();
        self.set_phase(phase);
    }

    /// Labels the memories created from now on.
    pub fn set_phase(&self, phase: &'static str) {
        *lock(&self.phase) = phase;
    }

    pub fn records(&self) -> Vec<MemoryRecord> {
        lock(&self.memories)
            .iter()
            .map(|tracked| MemoryRecord {
                phase: tracked.phase,
                bytes: tracked.bytes.load(Ordering::Relaxed),
                peak_bytes: tracked.peak_bytes.load(Ordering::Relaxed),
                minimum_bytes: tracked.minimum_bytes,
            })
            .collect()
    }

    /// Sum of the peak sizes of the memories created in `phase`.
    pub fn peak_bytes(&self, phase: &str) -> usize {
        self.records().iter().filter(|record| record.phase == phase).map(|record| record.peak_bytes).sum()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Creator(Arc<MemoryProbe>);

unsafe impl wasmtime::MemoryCreator for Creator {
    fn new_memory(
        &self,
        _ty: wasmtime::MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn wasmtime::LinearMemory>, String> {
        // The probe's config asks for neither; anything else would need a real reservation.
        if reserved_size_in_bytes.unwrap_or(0) > 0 || guard_size_in_bytes > 0 {
            return Err(format!(
                "the memory probe cannot reserve {reserved_size_in_bytes:?} bytes with a {guard_size_in_bytes}-byte guard"
            ));
        }
        let tracked = Arc::new(Tracked { phase: *lock(&self.0.phase), minimum_bytes: minimum, bytes: AtomicUsize::new(0), peak_bytes: AtomicUsize::new(0) });
        lock(&self.0.memories).push(Arc::clone(&tracked));
        let mut memory = HeapMemory { base: NonNull::dangling(), size: 0, capacity: 0, maximum, tracked };
        wasmtime::LinearMemory::grow_to(&mut memory, minimum).map_err(|error| error.to_string())?;
        Ok(Box::new(memory))
    }
}

/// A zero-filled, page-aligned heap allocation that doubles when it must grow.
struct HeapMemory {
    base: NonNull<u8>,
    size: usize,
    capacity: usize,
    maximum: Option<usize>,
    tracked: Arc<Tracked>,
}

// The allocation is owned by this value alone; wasmtime serializes access to it.
unsafe impl Send for HeapMemory {}
unsafe impl Sync for HeapMemory {}

impl HeapMemory {
    fn layout(capacity: usize) -> Layout {
        Layout::from_size_align(capacity, WASM_PAGE).expect("capacities are page multiples far below isize::MAX")
    }
}

unsafe impl wasmtime::LinearMemory for HeapMemory {
    fn byte_size(&self) -> usize {
        self.size
    }

    fn byte_capacity(&self) -> usize {
        self.capacity
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if self.maximum.is_some_and(|maximum| new_size > maximum) {
            return Err(wasmtime::Error::msg("memory would exceed its maximum"));
        }
        if new_size <= self.size {
            return Ok(());
        }
        if new_size > self.capacity {
            let wanted = new_size.max(self.capacity.saturating_mul(2)).max(WASM_PAGE);
            let capacity = self.maximum.map_or(wanted, |maximum| wanted.min(maximum.max(new_size))).next_multiple_of(WASM_PAGE);
            // SAFETY: the layout has a non-zero size; the old allocation (if any) was made with
            // the layout of `self.capacity`. Bytes past `size` are zeroed below.
            let pointer = unsafe {
                if self.capacity == 0 {
                    alloc::alloc_zeroed(Self::layout(capacity))
                } else {
                    alloc::realloc(self.base.as_ptr(), Self::layout(self.capacity), capacity)
                }
            };
            let Some(base) = NonNull::new(pointer) else {
                return Err(wasmtime::Error::msg(format!("cannot allocate {capacity} bytes of linear memory")));
            };
            if self.capacity != 0 {
                // SAFETY: `base` holds `capacity` bytes; `[old capacity, capacity)` is ours and uninitialised.
                unsafe { base.as_ptr().add(self.capacity).write_bytes(0, capacity - self.capacity) };
            }
            self.base = base;
            self.capacity = capacity;
        }
        self.size = new_size;
        self.tracked.set(new_size);
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }
}

impl Drop for HeapMemory {
    fn drop(&mut self) {
        if self.capacity != 0 {
            // SAFETY: allocated above with exactly this layout.
            unsafe { alloc::dealloc(self.base.as_ptr(), Self::layout(self.capacity)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_memory_grows_zeroed_and_records_its_peak() {
        let probe = MemoryProbe::new();
        probe.start("test");
        let creator = Creator(Arc::clone(&probe));
        let ty = wasmtime::MemoryType::new(1, Some(64));
        let mut memory =
            wasmtime::MemoryCreator::new_memory(&creator, ty, WASM_PAGE, Some(64 * WASM_PAGE), Some(0), 0).unwrap();
        assert_eq!(memory.byte_size(), WASM_PAGE);
        unsafe { memory.as_ptr().write_bytes(7, WASM_PAGE) };
        memory.grow_to(5 * WASM_PAGE).unwrap();
        let bytes = unsafe { std::slice::from_raw_parts(memory.as_ptr(), 5 * WASM_PAGE) };
        assert!(bytes[..WASM_PAGE].iter().all(|&b| b == 7) && bytes[WASM_PAGE..].iter().all(|&b| b == 0));
        assert!(memory.grow_to(65 * WASM_PAGE).is_err());
        assert_eq!(probe.records(), vec![MemoryRecord { phase: "test", bytes: 5 * WASM_PAGE, peak_bytes: 5 * WASM_PAGE, minimum_bytes: WASM_PAGE }]);
        assert_eq!(probe.peak_bytes("test"), 5 * WASM_PAGE);
    }
}
