//! Child processes that never outlive their test: a failing assertion unwinds through `Drop`,
//! which kills the child, so a failed run leaves no `billbot serve` behind holding ports or locks.

use std::ops::{Deref, DerefMut};
use std::process::{Child, Command};

pub struct Reaped(Child);

/// `command.reaped()` in place of `command.spawn().unwrap()`.
pub trait SpawnReaped {
    fn reaped(&mut self) -> Reaped;
}

impl SpawnReaped for Command {
    fn reaped(&mut self) -> Reaped {
        Reaped(self.spawn().expect("the billbot binary starts"))
    }
}

impl Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        // Both fail harmlessly when the test already stopped and reaped the child.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
