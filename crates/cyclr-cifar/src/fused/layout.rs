//! The reference CNN's shapes and where each parameter lives in the flat buffer (burn's
//! order, so records are burn's).

// Shapes: 3x32x32 -> conv 32x30x30 -> pool 32x15x15 -> conv 64x13x13 -> pool 64x6x6 ->
// conv 64x4x4 -> 1024 -> 64 -> 10.
pub(super) const C0: usize = 3;
pub(super) const S0: usize = 32;
pub(super) const C1: usize = 32;
pub(super) const S1: usize = 30;
pub(super) const Q1: usize = 15;
pub(super) const C2: usize = 64;
pub(super) const S2: usize = 13;
pub(super) const Q2: usize = 6;
pub(super) const C3: usize = 64;
pub(super) const S3: usize = 4;
pub(super) const K1: usize = C0 * 9;
pub(super) const K2: usize = C1 * 9;
pub(super) const K3: usize = C2 * 9;
pub(super) const N1: usize = S1 * S1;
pub(super) const N2: usize = S2 * S2;
pub(super) const N3: usize = S3 * S3;
pub(super) const FLAT: usize = C3 * N3;
pub(super) const HID: usize = 64;
pub(super) const OUT: usize = 10;

/// Where each parameter sits in the flat parameter vector.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub(super) at: usize,
    pub(super) len: usize,
}

pub(super) const fn slots() -> [Slot; 10] {
    let lens = [
        C1 * K1,
        C1,
        C2 * K2,
        C2,
        C3 * K3,
        C3,
        FLAT * HID,
        HID,
        HID * OUT,
        OUT,
    ];
    let mut out = [Slot { at: 0, len: 0 }; 10];
    let mut at = 0;
    let mut i = 0;
    while i < 10 {
        out[i] = Slot { at, len: lens[i] };
        at += lens[i];
        i += 1;
    }
    out
}
pub(super) const SLOTS: [Slot; 10] = slots();
pub(super) const W1: Slot = SLOTS[0];
pub(super) const B1: Slot = SLOTS[1];
pub(super) const W2: Slot = SLOTS[2];
pub(super) const B2: Slot = SLOTS[3];
pub(super) const W3: Slot = SLOTS[4];
pub(super) const B3: Slot = SLOTS[5];
pub(super) const F1: Slot = SLOTS[6];
pub(super) const G1: Slot = SLOTS[7];
pub(super) const F2: Slot = SLOTS[8];
pub(super) const G2: Slot = SLOTS[9];
/// Parameters of the reference CNN.
pub const NUM_PARAMS: usize = G2.at + G2.len;
/// The convolution parameters, accumulated per thread.
pub(super) const CONV_PARAMS: usize = F1.at;
