//! Any bytes, as a tar stream and as a gzipped one: the reader must answer with data or an
//! error, never panic, hang or allocate without bound.
#![no_main]

use cyclr_burn::data::Cifar10;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let name = std::path::Path::new("fuzz.tar.gz");
    let _ = Cifar10::read_archive(bytes, name);
    let _ = Cifar10::read_archive(flate2::read::GzDecoder::new(bytes), name);
});
