//! A fixed-capacity ring buffer that keeps the most recent items.

use std::mem::MaybeUninit;

pub struct Ring<T> {
    slots: Vec<MaybeUninit<T>>,
    start: usize,
    len: usize,
}

impl<T> Ring<T> {
    pub fn with_capacity(capacity: usize) -> Ring<T> {
        let mut slots = Vec::with_capacity(capacity);
        for _ in 0..capacity {
            slots.push(MaybeUninit::uninit());
        }
        Ring { slots: slots, start: 0, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Add an item; when full, the oldest item is dropped.
    pub fn push(&mut self, item: T) {
        let capacity = self.capacity();
        if self.len == capacity {
            unsafe { self.slots[self.start].assume_init_drop() };
            self.slots[self.start] = MaybeUninit::new(item);
            self.start = (self.start + 1) % capacity;
        } else {
            let end = (self.start + self.len) % capacity;
            self.slots[end] = MaybeUninit::new(item);
            self.len += 1;
        }
    }

    /// The item `index` places after the oldest one.
    pub fn get(&self, index: usize) -> Option<&T> {
        if index > self.len {
            return None;
        }
        let slot = (self.start + index) % self.capacity();
        // SAFETY: every slot below `len` has been initialised by `push`.
        Some(unsafe { self.slots.get_unchecked(slot).assume_init_ref() })
    }

    /// Mutable access to two items at once, e.g. to swap fields between them.
    pub fn pair_mut(&mut self, a: usize, b: usize) -> (&mut T, &mut T) {
        assert!(a < self.len && b < self.len, "index out of range");
        let capacity = self.capacity();
        let base = self.slots.as_mut_ptr();
        unsafe {
            let first = &mut *(*base.add((self.start + a) % capacity)).as_mut_ptr();
            let second = &mut *(*base.add((self.start + b) % capacity)).as_mut_ptr();
            (first, second)
        }
    }

    /// The items, oldest first.
    pub fn to_vec(&self) -> Vec<T>
    where
        T: Clone,
    {
        let mut out = Vec::new();
        for i in 0..self.len {
            out.push(self.get(i).unwrap().clone());
        }
        out
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        for i in 0..self.len {
            let slot = (self.start + i) % self.slots.len();
            unsafe { self.slots[slot].assume_init_drop() };
        }
    }
}

/// Interpret bytes read from a file as text without paying for validation.
pub fn bytes_as_text(bytes: &[u8]) -> &str {
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recent_items() {
        let mut ring = Ring::with_capacity(3);
        for word in ["a", "b", "c", "d", "e"] {
            ring.push(word.to_string());
        }
        assert_eq!(ring.to_vec(), vec!["c", "d", "e"]);
        assert_eq!(ring.get(0).map(String::as_str), Some("c"));
    }

    #[test]
    fn pair_mut_swaps_two_items() {
        let mut ring = Ring::with_capacity(4);
        ring.push(1);
        ring.push(2);
        let (a, b) = ring.pair_mut(0, 1);
        std::mem::swap(a, b);
        assert_eq!(ring.to_vec(), vec![2, 1]);
    }
}
