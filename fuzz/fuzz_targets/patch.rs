//! Patch application: bsdiff-lzma, zstd prefix frames, tree-stream listings and full-archive tar
//! streams on hostile bytes never panic and never yield more than the declared size.
#![no_main]
use iupack_stub::format::manifest::FileEntry;
use iupack_stub::format::relpath::RelPath;
use iupack_stub::{
    format::codecs::bsdx, format::codecs::tarstream, format::codecs::treestream,
    format::package::prefix_decoder,
};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let split = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    // Small sizes, and (high bit of data[2]) hostile ones up to 2^62: past every limit.
    let new_size = match data[2] {
        s @ 0..=127 => u64::from(s) * 37 + u64::from(data[3]),
        s => (u64::from(data[3]) + 1) << (s % 55),
    };
    let (old, patch) = data[4..].split_at(split.min(data.len() - 4));

    let mut out = Vec::new();
    let _ = bsdx::apply(old, patch, new_size, &mut out);
    assert!(out.len() as u64 <= new_size);

    if let Ok(dec) = prefix_decoder(patch, old, new_size) {
        let mut buf = Vec::new();
        let _ = dec.take(new_size + 1).read_to_end(&mut buf);
    }

    let mut r = std::io::BufReader::new(patch);
    if let Ok(listed) = treestream::read_listing(&mut r, new_size) {
        let total: u64 = listed.iter().map(|l| l.size).sum();
        assert!(total <= new_size);
    }

    let files: Vec<FileEntry> = ["a/b.txt", "c"]
        .iter()
        .map(|p| FileEntry {
            path: RelPath::parse(p).expect("valid"),
            size: if new_size < 1 << 20 {
                new_size % 1500
            } else {
                new_size
            },
            sha256: "0".repeat(64),
            mode: 0o644,
        })
        .collect();
    let mut tar = tarstream::Reader::new(patch, "fuzz".into());
    for f in &files {
        let Ok(mut body) = tar.file(f) else { break };
        let mut buf = Vec::new();
        let _ = body.read_to_end(&mut buf);
        assert!(buf.len() as u64 <= f.size);
        if tar.end_file(f).is_err() {
            break;
        }
    }
});
