//! Generated avatars: a symmetric 5×5 identicon per user, served as a real PNG.
//!
//! The PNG is written by hand (stored, uncompressed deflate blocks) to avoid an image crate.

use sha2::{Digest, Sha256};

use crate::store::User;

const CELLS: usize = 5;
const CELL_PX: usize = 24;
const MARGIN_PX: usize = 20;
/// 160 × 160 pixels.
pub const SIZE_PX: usize = CELLS * CELL_PX + 2 * MARGIN_PX;

/// The avatar URL a client sees: the user's own, or the emulator's generated one.
pub fn avatar_url(user: &User, base_url: &str) -> String {
    match &user.avatar_url {
        Some(url) => url.clone(),
        None => format!("{base_url}/avatars/{}.png", user.id),
    }
}

/// The identicon of a user id as PNG bytes.
pub fn identicon_png(uid: u64) -> Vec<u8> {
    let hash = Sha256::digest(format!("geniusauth-emulator avatar {uid}").as_bytes());
    let hue = f32::from(u16::from_be_bytes([hash[0], hash[1]]) % 360);
    let foreground = hsl_to_rgb(hue, 0.55, 0.55);
    let background = [0xf2, 0xf3, 0xf5];
    // 15 bits decide the left three columns; the right two mirror them.
    let bits = u32::from_be_bytes([hash[2], hash[3], hash[4], hash[5]]);
    let filled = |row: usize, col: usize| {
        let col = if col >= 3 { CELLS - 1 - col } else { col };
        bits >> (row * 3 + col) & 1 == 1
    };
    let mut rgb = Vec::with_capacity(SIZE_PX * SIZE_PX * 3);
    for y in 0..SIZE_PX {
        for x in 0..SIZE_PX {
            let inside = (MARGIN_PX..SIZE_PX - MARGIN_PX).contains(&x)
                && (MARGIN_PX..SIZE_PX - MARGIN_PX).contains(&y);
            let on = inside && filled((y - MARGIN_PX) / CELL_PX, (x - MARGIN_PX) / CELL_PX);
            rgb.extend_from_slice(if on { &foreground } else { &background });
        }
    }
    encode_png_rgb(SIZE_PX as u32, SIZE_PX as u32, &rgb)
}

fn hsl_to_rgb(hue: f32, saturation: f32, lightness: f32) -> [u8; 3] {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue / 60.0;
    let x = chroma * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    let to_byte = |v: f32| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to_byte(r), to_byte(g), to_byte(b)]
}

/// An 8-bit truecolour PNG of `rgb` (row-major, 3 bytes per pixel).
pub fn encode_png_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let row_len = width as usize * 3;
    let mut raw = Vec::with_capacity((row_len + 1) * height as usize);
    for row in rgb.chunks(row_len) {
        raw.push(0); // filter type: none
        raw.extend_from_slice(row);
    }

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, RGB, deflate, adaptive, no interlace

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of uncompressed deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn identicons_differ_and_look_like_png() {
        let a = identicon_png(1);
        let b = identicon_png(2);
        assert_ne!(a, b);
        assert!(a.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(a.ends_with(&[0xae, 0x42, 0x60, 0x82]));
    }
}
