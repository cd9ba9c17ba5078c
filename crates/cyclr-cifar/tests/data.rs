//! The CIFAR-10 reader on the real archive and on every kind of bad input.

mod common;
use common::cifar_archive;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cyclr_cifar::data::{
    Cifar10, DataError, IMAGE_BYTES, RECORD_BYTES, RECORDS_PER_FILE, TEST_FILE, TRAIN_FILES,
    epoch_order, make_batch,
};
use flate2::Compression;
use flate2::write::GzEncoder;

fn real() -> &'static Cifar10 {
    static DATA: OnceLock<Cifar10> = OnceLock::new();
    DATA.get_or_init(|| {
        let path = cifar_archive();
        Cifar10::load(&path)
            .unwrap_or_else(|e| panic!("the shared CIFAR-10 at {}: {e}", path.display()))
    })
}

#[test]
fn reads_the_shared_archive_without_unpacking() {
    let d = real();
    assert_eq!(d.train.len(), 50_000);
    assert_eq!(d.test.len(), 10_000);
    assert_eq!(d.train.images.len(), 50_000 * IMAGE_BYTES);
    assert_eq!(d.train.class_counts(), [5000; 10]);
    assert_eq!(d.test.class_counts(), [1000; 10]);
}

#[test]
fn a_folder_reads_the_same_as_the_archive() {
    let d = real();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&bin).unwrap();
    let write = |name: &str, split: &cyclr_cifar::data::Split, from: usize| {
        let mut bytes = Vec::with_capacity(RECORDS_PER_FILE * RECORD_BYTES);
        for i in from..from + RECORDS_PER_FILE {
            bytes.push(split.labels[i]);
            bytes.extend_from_slice(split.image(i));
        }
        std::fs::write(bin.join(name), bytes).unwrap();
    };
    for (k, name) in TRAIN_FILES.iter().enumerate() {
        write(name, &d.train, k * RECORDS_PER_FILE);
    }
    write(TEST_FILE, &d.test, 0);
    let from_dir = Cifar10::load(dir.path()).unwrap();
    assert_eq!(from_dir.train, d.train);
    assert_eq!(from_dir.test, d.test);
    // Pointing at cifar-10-batches-bin itself works too.
    assert_eq!(Cifar10::load(&bin).unwrap().test, d.test);
}

#[test]
fn subsets_are_class_balanced() {
    let d = real().clone().limit(Some(5000), Some(1003)).unwrap();
    assert_eq!(d.train.class_counts(), [500; 10]);
    assert_eq!(d.test.len(), 1003);
    assert_eq!(
        d.test.class_counts(),
        [101, 101, 101, 100, 100, 100, 100, 100, 100, 100]
    );
    // Named in the library's words, rendered by a front-end in its own (the CLI's flags).
    let as_flags = |s: &str| format!("--{}", s.replace('_', "-"));
    let err = real()
        .clone()
        .limit(Some(60_000), None)
        .unwrap_err()
        .describe(&as_flags);
    assert!(
        err.contains("--train-limit 60000 asks for more images than the 50000"),
        "{err}"
    );
    let err = real()
        .clone()
        .limit(None, Some(0))
        .unwrap_err()
        .describe(&as_flags);
    assert!(err.contains("--test-limit is 0"), "{err}");
}

#[test]
fn shuffling_is_a_seeded_permutation_per_epoch() {
    let a = epoch_order(1000, 7, 0);
    assert_eq!(a, epoch_order(1000, 7, 0));
    assert_ne!(a, epoch_order(1000, 7, 1));
    assert_ne!(a, epoch_order(1000, 8, 0));
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
}

#[test]
fn batches_are_normalised_per_channel() {
    let d = real();
    let b = make_batch(&d.train, &(0..1000).collect::<Vec<u32>>());
    assert_eq!(b.images.len(), 1000 * IMAGE_BYTES);
    for c in 0..3 {
        let vals: Vec<f32> = b
            .images
            .chunks(1024)
            .skip(c)
            .step_by(3)
            .flatten()
            .copied()
            .collect();
        let mean = vals.iter().map(|&v| v as f64).sum::<f64>() / vals.len() as f64;
        let var = vals.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / vals.len() as f64;
        assert!(
            mean.abs() < 0.1 && (var.sqrt() - 1.0).abs() < 0.1,
            "channel {c}: {mean} {var}"
        );
    }
}

// ---- bad input -------------------------------------------------------------------------

/// A gzipped tar with the given (name, bytes) members.
fn archive(dir: &Path, members: &[(&str, Vec<u8>)]) -> PathBuf {
    let path = dir.join("bad.tar.gz");
    let mut b = tar::Builder::new(GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        Compression::fast(),
    ));
    for (name, bytes) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        // Set the name bytes directly: the builder refuses `..`, an attacker's tool does not.
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
    path
}

fn records(n: usize, label: u8) -> Vec<u8> {
    let mut v = vec![0u8; n * RECORD_BYTES];
    for r in v.chunks_mut(RECORD_BYTES) {
        r[0] = label;
    }
    v
}

fn member(name: &str) -> String {
    format!("cifar-10-batches-bin/{name}")
}

fn load_err(path: &Path) -> (DataError, String) {
    let e = Cifar10::load(path).unwrap_err();
    let s = e.to_string();
    (e, s)
}

#[test]
fn a_truncated_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = records(RECORDS_PER_FILE, 1);
    bytes.truncate(bytes.len() - 100);
    let p = archive(dir.path(), &[(&member("data_batch_1.bin"), bytes)]);
    let (e, s) = load_err(&p);
    assert!(matches!(e, DataError::RecordSize { .. }), "{s}");
    assert!(
        s.contains("data_batch_1.bin") && s.contains("truncated"),
        "{s}"
    );
}

#[test]
fn a_wrong_record_count_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = archive(
        dir.path(),
        &[(
            &member("data_batch_1.bin"),
            records(RECORDS_PER_FILE + 1, 1),
        )],
    );
    let (e, s) = load_err(&p);
    assert!(matches!(e, DataError::TooLarge { .. }), "{s}");
    assert!(
        s.contains("data_batch_1.bin holds more than the 10,000 records"),
        "{s}"
    );
    let p = archive(
        dir.path(),
        &[(
            &member("data_batch_1.bin"),
            records(RECORDS_PER_FILE - 1, 1),
        )],
    );
    let (e, s) = load_err(&p);
    assert!(
        matches!(e, DataError::RecordCount { count: 9_999, .. }),
        "{s}"
    );
}

#[test]
fn a_label_out_of_range_is_named_with_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = records(RECORDS_PER_FILE, 3);
    bytes[5 * RECORD_BYTES] = 17;
    let p = archive(dir.path(), &[(&member("data_batch_1.bin"), bytes)]);
    let (_, s) = load_err(&p);
    assert!(
        s.contains("record 5 of") && s.contains("data_batch_1.bin has label 17"),
        "{s}"
    );
}

#[test]
fn a_missing_member_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = archive(
        dir.path(),
        &[(&member("data_batch_1.bin"), records(RECORDS_PER_FILE, 0))],
    );
    let (e, s) = load_err(&p);
    assert!(matches!(e, DataError::Missing { .. }), "{s}");
    assert!(
        s.contains("lacks cifar-10-batches-bin/data_batch_2.bin"),
        "{s}"
    );
}

#[test]
fn path_tricks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = archive(dir.path(), &[("../../etc/data_batch_1.bin", records(1, 0))]);
    let (e, s) = load_err(&p);
    assert!(matches!(e, DataError::UnsafePath { .. }), "{s}");
    assert!(s.contains("../../etc/data_batch_1.bin"), "{s}");
}

#[test]
fn not_a_tar_and_empty_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    assert!(matches!(load_err(&text).0, DataError::NotCifar { .. }));

    let gz_not_tar = dir.path().join("x.tar.gz");
    let mut enc = GzEncoder::new(
        std::fs::File::create(&gz_not_tar).unwrap(),
        Compression::fast(),
    );
    enc.write_all(&[7u8; 10_000]).unwrap();
    enc.finish().unwrap();
    let (e, s) = load_err(&gz_not_tar);
    assert!(
        matches!(e, DataError::Archive { .. } | DataError::Missing { .. }),
        "{s}"
    );
    assert!(s.contains("x.tar.gz"), "{s}");

    let corrupt_gz = dir.path().join("c.tar.gz");
    std::fs::write(&corrupt_gz, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let (e, s) = load_err(&corrupt_gz);
    assert!(matches!(e, DataError::Archive { .. }), "{s}");

    let empty = dir.path().join("empty.tar.gz");
    std::fs::write(&empty, b"").unwrap();
    let (_, s) = load_err(&empty);
    assert!(s.contains("empty.tar.gz is empty"), "{s}");

    let missing = dir.path().join("nope.tar.gz");
    let (e, s) = load_err(&missing);
    assert!(
        matches!(e, DataError::Io { .. }) && s.contains("nope.tar.gz"),
        "{s}"
    );

    // A folder where a batch file should be: named as such, not read.
    let bin = dir.path().join("folder");
    std::fs::create_dir_all(bin.join("data_batch_1.bin")).unwrap();
    let (e, s) = load_err(&bin);
    assert!(
        matches!(e, DataError::NotAFile { .. })
            && s.contains("data_batch_1.bin is not a regular file"),
        "{s}"
    );
}

/// `gzip -t` refuses a damaged CRC or a cut trailer; so does the reader, though the tar
/// inside ends before the gzip trailer is reached.
#[test]
fn a_damaged_or_missing_gzip_trailer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = archive(dir.path(), &[(&member("data_batch_1.bin"), records(3, 1))]);
    let bytes = std::fs::read(&good).unwrap();
    let n = bytes.len();
    let mut crc = bytes.clone();
    crc[n - 8] ^= 0x55; // CRC32 of the uncompressed data
    let mut cut = bytes.clone();
    cut.truncate(n - 8); // no CRC, no length
    for (name, b) in [("crc.tar.gz", crc), ("cut.tar.gz", cut)] {
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        let (e, s) = load_err(&p);
        assert!(matches!(e, DataError::Archive { .. }), "{name}: {e:?}");
        assert!(
            s.contains("compressed stream is corrupt") && s.contains(name),
            "{name}: {s}"
        );
    }
    // The intact archive reads on to its real problem (3 records, not 10,000).
    let (_, s) = load_err(&good);
    assert!(!s.contains("corrupt"), "{s}");
}

/// Two members of the same name: refused, not last-one-wins.
#[test]
fn a_member_given_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = member("data_batch_2.bin");
    let p = archive(dir.path(), &[(&m, records(3, 1)), (&m, records(3, 2))]);
    let (e, s) = load_err(&p);
    assert!(matches!(e, DataError::Duplicate { .. }), "{e:?}");
    assert!(s.contains("data_batch_2.bin twice"), "{s}");
}

#[test]
fn an_empty_batch_file_in_a_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data_batch_1.bin"), b"").unwrap();
    let (e, s) = load_err(dir.path());
    assert!(
        matches!(e, DataError::Empty { .. }) && s.contains("data_batch_1.bin"),
        "{s}"
    );
}

/// Counts the bytes each thread has allocated and not freed, and their peak, so a test can
/// bound what one call may allocate.
mod allocations {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn track(delta: isize) {
        let _ = LIVE.try_with(|live| {
            let now = live.get() + delta;
            live.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                track(layout.size() as isize);
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) };
            track(-(layout.size() as isize));
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                track(new_size as isize - layout.size() as isize);
            }
            p
        }
    }

    /// The most bytes this thread held at once while `f` ran, above what it held before.
    pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        let out = f();
        (out, (PEAK.with(Cell::get) - base).max(0) as usize)
    }
}

#[global_allocator]
static ALLOCATOR: allocations::Counting = allocations::Counting;

mod fuzz_briefly {
    //! A short run of the fuzz target's property in the ordinary test suite: random and
    //! mutated archives never panic the reader, are never taken for CIFAR-10, and never make
    //! it allocate more than the format allows (the long run is `cargo fuzz`,
    //! RELIABILITY.md).
    use super::allocations::peak_during;
    use super::*;
    use proptest::prelude::*;

    /// The largest member the format has (10,000 records of 3,073 bytes), plus slack for the
    /// decoder's buffers: a few KiB of input must never make the reader hold more.
    const ALLOCATION_BOUND: usize = RECORDS_PER_FILE * RECORD_BYTES + (4 << 20);

    fn small_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let body = records(3, 2);
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_path("cifar-10-batches-bin/data_batch_1.bin").unwrap();
        h.set_cksum();
        b.append(&h, body.as_slice()).unwrap();
        b.into_inner().unwrap()
    }

    /// A member whose header claims 30 GB (and an archive that stops there): refused
    /// without reserving the claimed size.
    #[test]
    fn a_header_claiming_a_huge_member_allocates_within_the_bound() {
        let mut h = tar::Header::new_gnu();
        h.set_size(30_000_000_000);
        h.set_mode(0o644);
        h.set_path("cifar-10-batches-bin/data_batch_1.bin").unwrap();
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(7u8, 4096));
        let (result, peak) =
            peak_during(|| Cifar10::read_archive(bytes.as_slice(), Path::new("huge.tar")));
        assert!(result.is_err());
        assert!(peak <= ALLOCATION_BOUND, "{peak} bytes held");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let (plain, peak) = peak_during(|| Cifar10::read_archive(bytes.as_slice(), Path::new("x.tar")));
            prop_assert!(plain.is_err(), "random bytes are not CIFAR-10");
            prop_assert!(peak <= ALLOCATION_BOUND, "{peak} bytes held for a {}-byte input", bytes.len());
            let (gz, peak) = peak_during(|| {
                Cifar10::read_archive(flate2::read::GzDecoder::new(bytes.as_slice()), Path::new("x.tar.gz"))
            });
            prop_assert!(gz.is_err());
            prop_assert!(peak <= ALLOCATION_BOUND, "{peak} bytes held for a {}-byte gzip input", bytes.len());
        }

        #[test]
        fn mutated_archives_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                                        cut in any::<prop::sample::Index>()) {
            let mut tar = small_tar();
            for (at, byte) in flips {
                let i = at.index(tar.len());
                tar[i] ^= byte;
            }
            tar.truncate(cut.index(tar.len() + 1));
            let (result, peak) = peak_during(|| Cifar10::read_archive(tar.as_slice(), Path::new("m.tar")));
            prop_assert!(result.is_err(), "a 3-record archive is never a valid CIFAR-10");
            prop_assert!(peak <= ALLOCATION_BOUND, "{peak} bytes held for a {}-byte archive", tar.len());
        }
    }
}
