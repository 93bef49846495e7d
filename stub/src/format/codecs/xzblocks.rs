//! Writes one `.xz` stream of several blocks, each coded by LZMA2 with its own dictionary size,
//! and no check (what it holds is signed): the container of `bsdiff-lzma` layout 2's sections,
//! read back by the xz reader full archives use. The block layout follows the .xz file format
//! 1.1.0 (tukaani.org): stream header, blocks (header, LZMA2 data, padding), index, footer.
//! Builder only; an empty part gets no block.

use std::io::{self, Write};

/// The smallest dictionary LZMA2's one-byte code can say that holds `n` bytes (and its code).
fn dict_code(n: u32) -> (u32, u8) {
    (0u8..=40)
        .map(|b| ((2 | u32::from(b & 1)) << (b / 2 + 11), b))
        .find(|&(size, _)| size >= n)
        .unwrap_or((u32::MAX, 40))
}

fn crc32(b: &[u8]) -> [u8; 4] {
    let mut c = flate2::Crc::new();
    c.update(b);
    c.sum().to_le_bytes()
}

/// The `.xz` stream of `parts`, each (bytes, dictionary size at least), LZMA2 at -9e.
pub fn write(parts: &[(&[u8], u32)]) -> io::Result<Vec<u8>> {
    use liblzma::stream::{Filters, LzmaOptions, Stream, PRESET_EXTREME};
    // Stream flags: no check.
    let flags = [0u8, 0];
    let mut out = b"\xFD7zXZ\0".to_vec();
    out.extend_from_slice(&flags);
    out.extend_from_slice(&crc32(&flags));
    let mut records = Vec::new();
    for &(raw, dict) in parts.iter().filter(|(raw, _)| !raw.is_empty()) {
        let (size, code) = dict_code(dict);
        let mut opts = LzmaOptions::new_preset(9 | PRESET_EXTREME).map_err(io::Error::other)?;
        opts.dict_size(size);
        let mut filters = Filters::new();
        filters.lzma2(&opts);
        let stream = Stream::new_raw_encoder(&filters).map_err(io::Error::other)?;
        let mut enc = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
        enc.write_all(raw)?;
        let data = enc.finish()?;
        // Block header: its size in 4-byte units less one, flags (one filter, no sizes), the
        // LZMA2 filter (id 0x21, one property byte: the dictionary), padding, CRC32.
        let header = [2u8, 0, 0x21, 1, code, 0, 0, 0];
        out.extend_from_slice(&header);
        out.extend_from_slice(&crc32(&header));
        out.extend_from_slice(&data);
        let unpadded = 12 + data.len();
        out.resize(out.len() + (4 - unpadded % 4) % 4, 0);
        records.push((unpadded as u64, raw.len() as u64));
    }
    let mut index = vec![0u8];
    super::bsdx::put_leb(&mut index, records.len() as u64);
    for (unpadded, raw) in records {
        super::bsdx::put_leb(&mut index, unpadded);
        super::bsdx::put_leb(&mut index, raw);
    }
    index.resize(index.len() + (4 - index.len() % 4) % 4, 0);
    let crc = crc32(&index);
    index.extend_from_slice(&crc);
    out.extend_from_slice(&index);
    let mut tail = ((index.len() / 4 - 1) as u32).to_le_bytes().to_vec();
    tail.extend_from_slice(&flags);
    out.extend_from_slice(&crc32(&tail));
    out.extend_from_slice(&tail);
    out.extend_from_slice(b"YZ");
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// liblzma (the reference decoder) reads the stream back, every block in order.
    #[test]
    fn the_reference_decoder_reads_it() {
        use std::io::Read;
        let a: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let parts: [(&[u8], u32); 4] = [(b"first", 4096), (b"", 4096), (&a, 70_000), (b"z", 1)];
        let xz = super::write(&parts).expect("write");
        let mut back = Vec::new();
        liblzma::read::XzDecoder::new(&xz[..])
            .read_to_end(&mut back)
            .expect("liblzma reads it");
        assert_eq!(back, [&b"first"[..], &a, b"z"].concat());
        let mut ours = Vec::new();
        lzma_rust2::XzReader::new(&xz[..], false)
            .read_to_end(&mut ours)
            .expect("the stub's reader reads it");
        assert_eq!(ours, back);
        assert_eq!(super::dict_code(4096), (4096, 0));
        assert_eq!(super::dict_code(70_000), (98_304, 9));
    }
}
