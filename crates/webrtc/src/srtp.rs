//! SRTP through a libsrtp2 built on OpenSSL, when one is installed.
//!
//! Debian's libsrtp2 (2.5.0) encrypts through NSS and builds and destroys an NSS context for
//! every packet. A profile of the server's per-viewer send threads put 36 % of them in SRTP,
//! nearly all of it that bookkeeping (`PK11_CreateContextBySymKey`, `PK11_DestroyContext`, …),
//! not the cipher. The same source package built with `--enable-openssl` keeps one cipher
//! context per stream: `scripts/install-deps.sh` builds it into [`DEFAULT_PATH`].
//!
//! GStreamer's `srtp` plugin links `libsrtp2.so.1` by its soname, and the dynamic linker hands a
//! library that asks for a soname the one already loaded under it. So [`preload`] loads ours
//! before the plugin is: from then on every `srtpenc` and `srtpdec` in the process uses it.
//! `TESSERA_SRTP_LIBRARY` names another file, or `system` to keep Debian's (for comparisons).

use std::ffi::{CStr, CString, c_void};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where `scripts/install-deps.sh` puts libsrtp2 built on OpenSSL.
pub const DEFAULT_PATH: &str = "/usr/local/lib/tessera/libsrtp2.so.1";

/// The environment variable that overrides [`DEFAULT_PATH`] (`system`: load nothing).
pub const ENV: &str = "TESSERA_SRTP_LIBRARY";

/// What [`preload`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preloaded {
    /// This file is the process's libsrtp2.
    Library(PathBuf),
    /// The system's libsrtp2 will be used: asked for, or none was installed at this path.
    System(Option<PathBuf>),
    /// A libsrtp2 was loaded before (this file), so it stays the one in use.
    TooLate(PathBuf),
    /// Loading the file failed (the loader's message).
    Failed(String),
}

/// Loads the libsrtp2 to use before GStreamer's `srtp` plugin needs one; only the first call
/// does anything. Call it before the first `webrtcbin` (`new_webrtcbin` does).
pub fn preload() -> &'static Preloaded {
    static DONE: OnceLock<Preloaded> = OnceLock::new();
    DONE.get_or_init(|| {
        let wanted = std::env::var(ENV).unwrap_or_else(|_| DEFAULT_PATH.to_owned());
        if wanted == "system" {
            return Preloaded::System(None);
        }
        if let Some(loaded) = in_use() {
            return Preloaded::TooLate(loaded);
        }
        let path = PathBuf::from(wanted);
        if !path.exists() {
            return Preloaded::System(Some(path));
        }
        match open(&path) {
            Ok(()) => Preloaded::Library(path),
            Err(e) => Preloaded::Failed(e),
        }
    })
}

/// The file of the libsrtp2 loaded in this process, if one is.
pub fn in_use() -> Option<PathBuf> {
    // SAFETY: dlopen with RTLD_NOLOAD only looks up an object already loaded; the handle it
    // returns holds a reference, released below. dlsym and dladdr read the loader's tables;
    // dli_fname points into the loaded object's map entry, which lives while we hold the handle.
    unsafe {
        let handle = libc::dlopen(c"libsrtp2.so.1".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD);
        if handle.is_null() {
            return None;
        }
        let symbol: *mut c_void = libc::dlsym(handle, c"srtp_protect".as_ptr());
        let mut info: libc::Dl_info = std::mem::zeroed();
        let file = (!symbol.is_null() && libc::dladdr(symbol, &mut info) != 0 && !info.dli_fname.is_null())
            .then(|| PathBuf::from(CStr::from_ptr(info.dli_fname).to_string_lossy().into_owned()));
        libc::dlclose(handle);
        file
    }
}

/// Loads `path` for good (its handle is never closed), its symbols visible to later libraries.
fn open(path: &Path) -> Result<(), String> {
    let name = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: dlopen of a shared library by path; libsrtp2's constructors do nothing but set
    // static tables. The handle is deliberately kept open for the life of the process.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns the calling thread's last loader error, or null.
        let why = unsafe { libc::dlerror() };
        return Err(if why.is_null() {
            format!("dlopen {} failed", path.display())
        } else {
            // SAFETY: a non-null dlerror is a NUL-terminated string valid until the next call.
            unsafe { CStr::from_ptr(why) }.to_string_lossy().into_owned()
        });
    }
    keep_openssl_at_exit(handle);
    Ok(())
}

/// `OPENSSL_INIT_NO_ATEXIT` (openssl/crypto.h, OpenSSL 1.1.1 and later).
const OPENSSL_INIT_NO_ATEXIT: u64 = 0x0008_0000;

/// OpenSSL frees its global state in an `atexit` handler. With SRTP on OpenSSL, every packet
/// uses it: a process that ends while a pipeline still streams (a client's peers retiring on
/// their own thread as a load generator returns) would free it under a thread still
/// encrypting. Asked before anything else initializes OpenSSL, it leaves that state to the
/// operating system. A no-op when OpenSSL was initialized before.
fn keep_openssl_at_exit(srtp: *mut c_void) {
    // SAFETY: `srtp` is a live handle; dlsym searches it and its dependencies (libcrypto.so.3),
    // and OPENSSL_init_crypto has this C signature in every OpenSSL that has the option.
    unsafe {
        let init = libc::dlsym(srtp, c"OPENSSL_init_crypto".as_ptr());
        if !init.is_null() {
            let init: extern "C" fn(u64, *const c_void) -> libc::c_int = std::mem::transmute(init);
            init(OPENSSL_INIT_NO_ATEXIT, std::ptr::null());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library install-deps.sh builds is the one the `srtp` plugin's elements run on.
    #[test]
    fn srtp_elements_use_the_openssl_build() {
        let preloaded = preload().clone();
        gst::init().unwrap();
        let _enc = gst::ElementFactory::make("srtpenc").build().unwrap();
        let _dec = gst::ElementFactory::make("srtpdec").build().unwrap();
        let path = PathBuf::from(DEFAULT_PATH);
        assert_eq!(preloaded, Preloaded::Library(path.clone()), "scripts/install-deps.sh builds {DEFAULT_PATH}");
        assert_eq!(in_use(), Some(path));
        assert_eq!(preload(), &preloaded, "only the first call loads");
    }
}
