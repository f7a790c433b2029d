//! A VFS over SQLite's default one ("unix") that writes a commit's WAL frames to the file in
//! one write: SQLite's wal.c writes each frame as two (its 24-byte header, then the page), so a
//! write of 8 pages cost 16 pwrite64 calls (~3-5 us each on the bench VM). Everything else is
//! passed to the default VFS untouched: the same files, locks and shared memory, so other
//! processes (the sqlite3 CLI) share the database as before. 2,000 new_robot + 2,000
//! update_robot: 64,364 -> 4,653 pwrite64 (strace -c -f of serve); embedded 0.338 -> 0.239 s.
//! One write carries at most `MAX_WRITE` bytes (~62 frames of the store's 2 KiB pages), the unix
//! VFS's limit.
//!
//! Only files SQLite opens with SQLITE_OPEN_WAL buffer: a write that appends to the WAL is
//! copied to a buffer while writes stay contiguous. What keeps the buffer invisible:
//! - Commit: the frame that commits a transaction has a nonzero "database size" field in its
//!   header (bytes 4..8, wal.c walEncodeFrame), and walFrames writes that frame by appending
//!   its header and then its page. The page's write flushes the buffer, inside that `xWrite`,
//!   so a failure fails the commit and the commit returns only once every frame is in the file
//!   (kill -9 safe, as before; synchronous=NORMAL does not sync at commit either way). SQLite
//!   publishes a commit (the wal-index header in shared memory) only after walFrames' writes
//!   returned, so readers, checkpoints and other processes never see a frame still buffered.
//! - Order: every other operation on the WAL file (read, sync, truncate, size, locks, file
//!   controls, close) and any write that does not extend the buffer flushes it first.
//!   A write below the highest offset written since the log last restarted (offset 0) is a
//!   rewrite of a frame of the current transaction (walFrames overwriting a page, or
//!   walRewriteChecksums rewriting headers after the commit frame): it goes straight through,
//!   so no commit-marked header can be left buffered behind the commit.
//! - The write lock: frames of a transaction that rolled back may still be buffered; they must
//!   reach the file (or be dropped) before another writer, possibly another process, gets the
//!   WAL write lock and writes at those offsets. The database file's `xShmLock` (and
//!   `xShmBarrier`, `xShmUnmap`, `xSync`, `xClose`) flushes its connection's WAL buffer first.
//!   A WAL file finds its database file through `sqlite3_filename_database`, which gives the
//!   very pointer its pager opened the database file with (registry `DATABASES`).
//! - A flush that fails drops the buffer (uncommitted frames only: a commit's own flush reports
//!   its error) and poisons the WAL's writes until the write lock is released, so the
//!   transaction whose frames were lost cannot commit (its commit frame's write fails).
//!
//! Frames flushed early (a large transaction past `MAX_WRITE`, a cache spill, a flush by a
//! lock call) are harmless: readers and recovery ignore frames after the last commit record.
//!
//! Safety of the FFI: `File` is `repr(C)` with SQLite's `sqlite3_file` first, since SQLite
//! hands us `*mut sqlite3_file` for the `szOsFile` bytes it allocated; the default VFS's file
//! lives after our fields at `REAL_OFFSET` (8-aligned, as SQLite's allocations are), inside
//! those bytes as `szOsFile` is ours plus the default VFS's. Our fields are written before
//! `pMethods` is set, and `pMethods` is set only when the real file's is (SQLite then calls
//! `xClose`, which drops them). SQLite calls a file's methods from one thread at a time (a
//! connection is used by one thread at a time), but the WAL state is still behind a `Mutex`,
//! since the database file's methods reach it through a second path. No callback unwinds:
//! nothing in them panics except `Mutex` poisoning, which is recovered from.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::ffi;

/// The VFS's name, for `Connection::open_with_flags_and_vfs`.
const NAME: &CStr = c"fleetsh-wal";

/// The most one write to the unix VFS may carry (`real_write`): a transaction bigger than this
/// is written as it goes (frames before the commit frame are harmless in the file): ~62
/// frames of 2 KiB pages a write, ~31 of 4 KiB.
const MAX_WRITE: usize = 0x1ffff;

/// wal.c's WAL_FRAME_HDRSIZE.
const FRAME_HEADER: usize = 24;

/// Registers the VFS (once) and returns its name.
pub fn name() -> rusqlite::Result<&'static CStr> {
    static REGISTERED: OnceLock<c_int> = OnceLock::new();
    // SAFETY: see `register`.
    match *REGISTERED.get_or_init(|| unsafe { register() }) {
        ffi::SQLITE_OK => Ok(NAME),
        rc => Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some("cannot register the WAL-batching VFS".into()),
        )),
    }
}

/// Registers a VFS that forwards to the default one, with `xOpen` wrapping its files.
/// Called once; the struct is leaked, as SQLite keeps a pointer to it for good.
unsafe fn register() -> c_int {
    unsafe {
        let rc = ffi::sqlite3_initialize();
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let real = ffi::sqlite3_vfs_find(ptr::null());
        if real.is_null() {
            return ffi::SQLITE_ERROR;
        }
        let vfs = Box::new(ffi::sqlite3_vfs {
            iVersion: (*real).iVersion.min(3),
            szOsFile: (REAL_OFFSET + (*real).szOsFile as usize) as c_int,
            mxPathname: (*real).mxPathname,
            pNext: ptr::null_mut(),
            zName: NAME.as_ptr(),
            pAppData: real.cast(),
            xOpen: Some(vfs_open),
            xDelete: Some(vfs_delete),
            xAccess: Some(vfs_access),
            xFullPathname: Some(vfs_full_pathname),
            xDlOpen: Some(vfs_dl_open),
            xDlError: Some(vfs_dl_error),
            xDlSym: Some(vfs_dl_sym),
            xDlClose: Some(vfs_dl_close),
            xRandomness: Some(vfs_randomness),
            xSleep: Some(vfs_sleep),
            xCurrentTime: Some(vfs_current_time),
            xGetLastError: Some(vfs_get_last_error),
            xCurrentTimeInt64: Some(vfs_current_time_int64),
            xSetSystemCall: Some(vfs_set_system_call),
            xGetSystemCall: Some(vfs_get_system_call),
            xNextSystemCall: Some(vfs_next_system_call),
        });
        ffi::sqlite3_vfs_register(Box::into_raw(vfs), 0)
    }
}

/// One of our files: SQLite's `sqlite3_file` (first: SQLite casts), our fields, then (at
/// `REAL_OFFSET`) the default VFS's file.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    /// A WAL file: its buffer. A main database file: its connection's WAL's, while open.
    wal: Option<Arc<Wal>>,
    /// A WAL file: its database's name pointer, by which it finds its database file at close.
    /// A main database file: the name pointer it was opened with (its `DATABASES` key).
    db_name: *const c_char,
}

const REAL_OFFSET: usize = size_of::<File>().next_multiple_of(8);

/// The default VFS's file inside ours.
unsafe fn real_file(f: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    unsafe { f.cast::<u8>().add(REAL_OFFSET).cast() }
}

/// The default VFS's methods of the file inside ours.
unsafe fn real_methods(f: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    unsafe { &*(*real_file(f)).pMethods }
}

/// Open main database files: (name pointer, `*mut File`), for their WAL files to find them.
static DATABASES: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Wal {
    state: Mutex<WalState>,
}

struct WalState {
    /// The default VFS's WAL file; null once closed.
    real: *mut ffi::sqlite3_file,
    /// False when the WAL found no database file to flush it at lock calls: writes go
    /// straight through then.
    buffering: bool,
    /// Appended frames not yet written, from file offset `start`.
    buf: Vec<u8>,
    start: i64,
    /// The highest offset written since the log was last restarted at offset 0: a write below
    /// it rewrites a frame.
    end: i64,
    /// Where the last write ended, and whether it was a commit frame's header (whose page
    /// comes next and ends the commit).
    last_end: i64,
    commit_header: bool,
    /// The error of a flush that dropped frames: writes fail with it until the write lock is
    /// released.
    poisoned: c_int,
}

// SAFETY: `real` is only used under the Mutex, and the file it points to lives until xClose.
unsafe impl Send for WalState {}

impl WalState {
    /// Writes the buffer out; on failure drops it and poisons writes.
    unsafe fn flush(&mut self) -> c_int {
        if self.buf.is_empty() || self.real.is_null() {
            return ffi::SQLITE_OK;
        }
        let rc = unsafe { real_write(self.real, &self.buf, self.start) };
        self.buf.clear();
        if rc != ffi::SQLITE_OK {
            self.poisoned = rc;
        }
        rc
    }

    unsafe fn write(&mut self, data: &[u8], offset: i64) -> c_int {
        if self.poisoned != ffi::SQLITE_OK {
            return self.poisoned;
        }
        let ends_commit = self.commit_header && offset == self.last_end;
        self.commit_header = data.len() == FRAME_HEADER && data[4..8] != [0; 4];
        self.last_end = offset + data.len() as i64;
        if !self.buffering || (offset != 0 && offset < self.end) {
            let rc = unsafe { self.flush() };
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            return unsafe { real_write(self.real, data, offset) };
        }
        if offset == 0 {
            // The log restarts (its header): what follows is new.
            self.end = 0;
        }
        if !self.buf.is_empty() && offset != self.start + self.buf.len() as i64 {
            let rc = unsafe { self.flush() };
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if self.buf.len() + data.len() > MAX_WRITE {
            let rc = unsafe { self.flush() };
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if self.buf.is_empty() {
            self.start = offset;
        }
        self.buf.extend_from_slice(data);
        self.end = self.end.max(self.last_end);
        if ends_commit {
            return unsafe { self.flush() };
        }
        ffi::SQLITE_OK
    }
}

unsafe fn real_write(real: *mut ffi::sqlite3_file, data: &[u8], offset: i64) -> c_int {
    unsafe {
        let Some(write) = (*(*real).pMethods).xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        // The unix VFS writes at most 128 KiB - 1 per call (seekAndWriteFd masks the length
        // with 0x1ffff, then reports SQLITE_FULL for the rest): the buffer stays under that,
        // and this holds the line should a caller ever pass more.
        let mut done = 0;
        for chunk in data.chunks(MAX_WRITE) {
            #[cfg(test)]
            tests::WAL_WRITES.with(|n| n.set(n.get() + 1));
            let rc = write(
                real,
                chunk.as_ptr().cast(),
                chunk.len() as c_int,
                offset + done,
            );
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            done += chunk.len() as i64;
        }
        ffi::SQLITE_OK
    }
}

unsafe fn wal_of<'a>(f: *mut ffi::sqlite3_file) -> Option<&'a Wal> {
    unsafe { (*f.cast::<File>()).wal.as_deref() }
}

/// Flushes the WAL buffer of `f`'s connection, if any (for a database file) or its own (for a
/// WAL file). Returns the flush's result.
unsafe fn flush(f: *mut ffi::sqlite3_file) -> c_int {
    match unsafe { wal_of(f) } {
        Some(wal) => unsafe { lock(&wal.state).flush() },
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn vfs_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    f: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    unsafe {
        let real_vfs: *mut ffi::sqlite3_vfs = (*vfs).pAppData.cast();
        let file = f.cast::<File>();
        // SQLite does not promise zeroed memory: write (not assign) our fields.
        ptr::write(&raw mut (*file).wal, None);
        ptr::write(&raw mut (*file).db_name, ptr::null());
        (*file).base.pMethods = ptr::null();
        let real = real_file(f);
        (*real).pMethods = ptr::null();
        let Some(open) = (*real_vfs).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = open(real_vfs, name, real, flags, out_flags);
        if (*real).pMethods.is_null() {
            return rc;
        }
        if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_WAL != 0 && !name.is_null() {
            // Only SQLite's pager opens files with SQLITE_OPEN_WAL, with a name this accepts.
            let db_name = ffi::sqlite3_filename_database(name);
            let databases = lock(&DATABASES);
            let db = databases.iter().find(|(n, _)| *n == db_name as usize);
            let wal = Arc::new(Wal {
                state: Mutex::new(WalState {
                    real,
                    buffering: db.is_some(),
                    buf: Vec::new(),
                    start: 0,
                    end: 0,
                    last_end: 0,
                    commit_header: false,
                    poisoned: ffi::SQLITE_OK,
                }),
            });
            if let Some(&(_, db)) = db {
                (*(db as *mut File)).wal = Some(wal.clone());
            }
            (*file).wal = Some(wal);
            (*file).db_name = db_name;
            (*file).base.pMethods = &WAL_METHODS;
        } else {
            if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_MAIN_DB != 0 && !name.is_null() {
                lock(&DATABASES).push((name as usize, file as usize));
                (*file).db_name = name;
            }
            (*file).base.pMethods = &DB_METHODS;
        }
        rc
    }
}

// The VFS's other methods: the default VFS's, called with the default VFS.
unsafe fn real_vfs<'a>(
    vfs: *mut ffi::sqlite3_vfs,
) -> (&'a ffi::sqlite3_vfs, *mut ffi::sqlite3_vfs) {
    unsafe {
        let real: *mut ffi::sqlite3_vfs = (*vfs).pAppData.cast();
        (&*real, real)
    }
}

/// VFS methods that call the default VFS's: `$absent` when it has no such method.
macro_rules! forward_to_real_vfs {
    ($($name:ident => $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty, $absent:expr;)*) => {$(
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs $(, $arg: $ty)*) -> $ret {
            unsafe {
                let (r, p) = real_vfs(vfs);
                r.$method.map_or($absent, |m| m(p $(, $arg)*))
            }
        }
    )*};
}

forward_to_real_vfs! {
    vfs_delete => xDelete(name: *const c_char, sync_dir: c_int) -> c_int, ffi::SQLITE_IOERR_DELETE;
    vfs_access => xAccess(name: *const c_char, flags: c_int, out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_ACCESS;
    vfs_full_pathname => xFullPathname(name: *const c_char, n: c_int, out: *mut c_char) -> c_int, ffi::SQLITE_CANTOPEN;
    vfs_dl_open => xDlOpen(name: *const c_char) -> *mut c_void, ptr::null_mut();
    vfs_randomness => xRandomness(n: c_int, out: *mut c_char) -> c_int, 0;
    vfs_sleep => xSleep(micros: c_int) -> c_int, 0;
    vfs_current_time => xCurrentTime(out: *mut f64) -> c_int, ffi::SQLITE_ERROR;
    vfs_get_last_error => xGetLastError(n: c_int, out: *mut c_char) -> c_int, 0;
}

unsafe extern "C" fn vfs_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    unsafe {
        let (r, p) = real_vfs(vfs);
        if let Some(m) = r.xDlError {
            m(p, n, out)
        }
    }
}

type DlSym = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn vfs_dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Option<DlSym> {
    unsafe {
        let (r, p) = real_vfs(vfs);
        r.xDlSym.and_then(|m| m(p, handle, symbol))
    }
}

unsafe extern "C" fn vfs_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    unsafe {
        let (r, p) = real_vfs(vfs);
        if let Some(m) = r.xDlClose {
            m(p, handle)
        }
    }
}

unsafe extern "C" fn vfs_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    unsafe {
        let (r, p) = real_vfs(vfs);
        if r.iVersion < 2 {
            return ffi::SQLITE_ERROR;
        }
        r.xCurrentTimeInt64.map_or(ffi::SQLITE_ERROR, |m| m(p, out))
    }
}

unsafe extern "C" fn vfs_set_system_call(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    call: ffi::sqlite3_syscall_ptr,
) -> c_int {
    unsafe {
        let (r, p) = real_vfs(vfs);
        if r.iVersion < 3 {
            return ffi::SQLITE_NOTFOUND;
        }
        r.xSetSystemCall
            .map_or(ffi::SQLITE_NOTFOUND, |m| m(p, name, call))
    }
}

unsafe extern "C" fn vfs_get_system_call(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
) -> ffi::sqlite3_syscall_ptr {
    unsafe {
        let (r, p) = real_vfs(vfs);
        if r.iVersion < 3 {
            return None;
        }
        r.xGetSystemCall.and_then(|m| m(p, name))
    }
}

unsafe extern "C" fn vfs_next_system_call(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
) -> *const c_char {
    unsafe {
        let (r, p) = real_vfs(vfs);
        if r.iVersion < 3 {
            return ptr::null();
        }
        r.xNextSystemCall.map_or(ptr::null(), |m| m(p, name))
    }
}

/// Methods of database, journal and temporary files: the default VFS's, the database file's
/// flushing its connection's WAL buffer first where the order matters (`xShmLock`, ...).
static DB_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(db_close),
    xRead: Some(f_read),
    xWrite: Some(f_write),
    xTruncate: Some(f_truncate),
    xSync: Some(db_sync),
    xFileSize: Some(f_file_size),
    xLock: Some(f_lock),
    xUnlock: Some(f_unlock),
    xCheckReservedLock: Some(f_check_reserved_lock),
    xFileControl: Some(f_file_control),
    xSectorSize: Some(f_sector_size),
    xDeviceCharacteristics: Some(f_device_characteristics),
    xShmMap: Some(f_shm_map),
    xShmLock: Some(db_shm_lock),
    xShmBarrier: Some(db_shm_barrier),
    xShmUnmap: Some(db_shm_unmap),
    xFetch: Some(f_fetch),
    xUnfetch: Some(f_unfetch),
};

/// Methods of WAL files: every one but `xWrite` (and the two that do not touch the file's
/// content) flushes the buffer first.
static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(wal_close),
    xRead: Some(wal_read),
    xWrite: Some(wal_write),
    xTruncate: Some(wal_truncate),
    xSync: Some(wal_sync),
    xFileSize: Some(wal_file_size),
    xLock: Some(wal_lock),
    xUnlock: Some(wal_unlock),
    xCheckReservedLock: Some(wal_check_reserved_lock),
    xFileControl: Some(wal_file_control),
    xSectorSize: Some(f_sector_size),
    xDeviceCharacteristics: Some(f_device_characteristics),
    xShmMap: Some(f_shm_map),
    xShmLock: Some(f_shm_lock),
    xShmBarrier: Some(f_shm_barrier),
    xShmUnmap: Some(f_shm_unmap),
    xFetch: Some(wal_fetch),
    xUnfetch: Some(f_unfetch),
};

// Plain forwarding.

/// Methods of our file that call the default VFS's file inside it: `$absent` when the default
/// VFS's file has no such method.
/// `since N`: a method SQLite added in io_methods version N, called only when the real
/// file's methods are at least that version.
macro_rules! forward_to_real {
    ($($name:ident => $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty, $absent:expr $(, since $v:literal)?;)*) => {$(
        unsafe extern "C" fn $name(f: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
            unsafe {
                let r = real_methods(f);
                match r.$method {
                    Some(m) $(if r.iVersion >= $v)? => m(real_file(f) $(, $arg)*),
                    _ => $absent,
                }
            }
        }
    )*};
}

forward_to_real! {
    f_read => xRead(buf: *mut c_void, n: c_int, off: i64) -> c_int, ffi::SQLITE_IOERR_READ;
    f_write => xWrite(buf: *const c_void, n: c_int, off: i64) -> c_int, ffi::SQLITE_IOERR_WRITE;
    f_truncate => xTruncate(size: i64) -> c_int, ffi::SQLITE_IOERR_TRUNCATE;
    f_sync => xSync(flags: c_int) -> c_int, ffi::SQLITE_IOERR_FSYNC;
    f_file_size => xFileSize(out: *mut i64) -> c_int, ffi::SQLITE_IOERR_FSTAT;
    f_lock => xLock(level: c_int) -> c_int, ffi::SQLITE_IOERR_LOCK;
    f_unlock => xUnlock(level: c_int) -> c_int, ffi::SQLITE_IOERR_UNLOCK;
    f_check_reserved_lock => xCheckReservedLock(out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK;
    f_file_control => xFileControl(op: c_int, arg: *mut c_void) -> c_int, ffi::SQLITE_NOTFOUND;
    f_sector_size => xSectorSize() -> c_int, 4096;
    f_device_characteristics => xDeviceCharacteristics() -> c_int, 0;
    f_shm_map => xShmMap(page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int, ffi::SQLITE_IOERR_SHMMAP, since 2;
    f_shm_lock => xShmLock(offset: c_int, n: c_int, flags: c_int) -> c_int, ffi::SQLITE_IOERR_SHMLOCK, since 2;
    f_shm_barrier => xShmBarrier() -> (), (), since 2;
    f_shm_unmap => xShmUnmap(delete: c_int) -> c_int, ffi::SQLITE_OK, since 2;
    // No mapping: SQLite reads with xRead instead.
    f_fetch => xFetch(off: i64, n: c_int, out: *mut *mut c_void) -> c_int, {
        *out = ptr::null_mut();
        ffi::SQLITE_OK
    }, since 3;
    f_unfetch => xUnfetch(off: i64, p: *mut c_void) -> c_int, ffi::SQLITE_OK, since 3;
}

// The database file: its connection's WAL buffer reaches the file before the WAL write lock
// changes hands, before the wal-index is published and before the database is synced. A
// failed flush there poisons the WAL (see `WalState::flush`): these calls cannot fail for it.

unsafe extern "C" fn db_shm_lock(
    f: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    unsafe {
        if let Some(wal) = wal_of(f) {
            let mut st = lock(&wal.state);
            st.flush();
            if offset == 0 && flags == ffi::SQLITE_SHM_UNLOCK | ffi::SQLITE_SHM_EXCLUSIVE {
                // The write lock goes: the transaction is over, whatever it lost with it.
                st.poisoned = ffi::SQLITE_OK;
            }
        }
        f_shm_lock(f, offset, n, flags)
    }
}

unsafe extern "C" fn db_shm_barrier(f: *mut ffi::sqlite3_file) {
    unsafe {
        flush(f);
        f_shm_barrier(f)
    }
}

unsafe extern "C" fn db_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    unsafe {
        flush(f);
        f_shm_unmap(f, delete)
    }
}

unsafe extern "C" fn db_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe {
        flush(f);
        f_sync(f, flags)
    }
}

unsafe extern "C" fn db_close(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let file = f.cast::<File>();
        flush(f);
        if !(*file).db_name.is_null() {
            lock(&DATABASES).retain(|&(_, db)| db != file as usize);
        }
        drop((*file).wal.take());
        let rc = real_methods(f)
            .xClose
            .map_or(ffi::SQLITE_OK, |m| m(real_file(f)));
        (*file).base.pMethods = ptr::null();
        rc
    }
}

// The WAL file.

/// Runs `op` on the real file after flushing the buffer (whose error it returns instead).
unsafe fn after_flush(f: *mut ffi::sqlite3_file, op: impl FnOnce() -> c_int) -> c_int {
    match unsafe { wal_of(f) } {
        Some(wal) => {
            let mut st = lock(&wal.state);
            let rc = unsafe { st.flush() };
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            op()
        }
        None => op(),
    }
}

unsafe extern "C" fn wal_write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    off: i64,
) -> c_int {
    unsafe {
        let Some(wal) = wal_of(f) else {
            return f_write(f, buf, n, off);
        };
        let data = std::slice::from_raw_parts(buf.cast::<u8>(), n.max(0) as usize);
        lock(&wal.state).write(data, off)
    }
}

/// WAL file methods that flush the buffer, then forward.
macro_rules! flush_then {
    ($($name:ident => $forward:ident($($arg:ident: $ty:ty),*);)*) => {$(
        unsafe extern "C" fn $name(f: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            unsafe { after_flush(f, || $forward(f $(, $arg)*)) }
        }
    )*};
}

flush_then! {
    wal_read => f_read(buf: *mut c_void, n: c_int, off: i64);
    wal_truncate => f_truncate(size: i64);
    wal_sync => f_sync(flags: c_int);
    wal_file_size => f_file_size(out: *mut i64);
    wal_lock => f_lock(level: c_int);
    wal_unlock => f_unlock(level: c_int);
    wal_check_reserved_lock => f_check_reserved_lock(out: *mut c_int);
    wal_file_control => f_file_control(op: c_int, arg: *mut c_void);
    wal_fetch => f_fetch(off: i64, n: c_int, out: *mut *mut c_void);
}

unsafe extern "C" fn wal_close(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let file = f.cast::<File>();
        {
            let databases = lock(&DATABASES);
            if let Some(&(_, db)) = databases
                .iter()
                .find(|(n, _)| *n == (*file).db_name as usize)
            {
                drop((*(db as *mut File)).wal.take());
            }
        }
        let Some(wal) = (*file).wal.take() else {
            return real_methods(f)
                .xClose
                .map_or(ffi::SQLITE_OK, |m| m(real_file(f)));
        };
        let mut st = lock(&wal.state);
        let flushed = st.flush();
        let rc = real_methods(f)
            .xClose
            .map_or(ffi::SQLITE_OK, |m| m(real_file(f)));
        st.real = ptr::null_mut();
        drop(st);
        (*file).base.pMethods = ptr::null();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            rc
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use rusqlite::{Connection, OpenFlags};

    use crate::server::store::{exec, row};

    thread_local! {
        /// Writes that reached this thread's WAL files.
        pub(super) static WAL_WRITES: Cell<usize> = const { Cell::new(0) };
    }

    fn writes() -> usize {
        WAL_WRITES.with(Cell::get)
    }

    /// A connection through the batching VFS, or (`batched` false) SQLite's own, as another
    /// process such as the sqlite3 CLI would open the database.
    fn open(path: &Path, batched: bool) -> Connection {
        let flags = OpenFlags::default();
        let conn = if batched {
            Connection::open_with_flags_and_vfs(path, flags, super::name().unwrap()).unwrap()
        } else {
            Connection::open_with_flags(path, flags).unwrap()
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn
    }

    fn count(conn: &Connection) -> i64 {
        row(conn, "SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    fn check(conn: &Connection) {
        let ok: String = row(conn, "PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }

    fn insert(conn: &Connection, n: usize) {
        for _ in 0..n {
            exec(conn, "INSERT INTO t(v) VALUES (randomblob(300))", []).unwrap();
        }
    }

    fn setup(path: &Path) -> Connection {
        let conn = open(path, true);
        conn.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); CREATE INDEX t_v ON t(v);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn a_commit_of_several_pages_is_one_write_and_readers_see_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = setup(&path);
        insert(&writer, 50);
        let readers = [open(&path, true), open(&path, false)];
        for round in 1..=20 {
            let before = writes();
            writer.execute_batch("BEGIN").unwrap();
            // Random index keys: the commit dirties the table's last page and several index pages.
            insert(&writer, 5);
            writer.execute_batch("COMMIT").unwrap();
            assert_eq!(writes() - before, 1, "round {round}");
            for r in &readers {
                assert_eq!(count(r), 50 + 5 * round);
            }
        }
        for r in &readers {
            check(r);
        }
    }

    #[test]
    fn the_log_restarts_after_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = setup(&path);
        let reader = open(&path, false);
        for round in 1..=5 {
            insert(&writer, 100);
            // RESTART: the next write starts the log again at its beginning, over old frames.
            let busy: i64 =
                row(&writer, "PRAGMA wal_checkpoint(RESTART)", [], |r| r.get(0)).unwrap();
            assert_eq!(busy, 0);
            insert(&writer, 10);
            assert_eq!(count(&reader), 110 * round);
        }
        check(&reader);
        drop(reader);
        drop(writer);
        let again = open(&path, true);
        assert_eq!(count(&again), 550);
        check(&again);
    }

    /// A copy of the database and its log, opened without the wal-index: SQLite recovers the
    /// log, checking every frame's checksum, and stops at the first bad one.
    fn recovered_copy(path: &Path, to: &Path) -> Connection {
        std::fs::copy(path, to.join("db")).unwrap();
        std::fs::copy(path.with_file_name("db-wal"), to.join("db-wal")).unwrap();
        open(&to.join("db"), false)
    }

    #[test]
    fn spilled_and_rewritten_frames_commit_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = setup(&path);
        // A tiny cache: the transaction spills pages to the log, then changes them again
        // (rewritten frames, checksums recomputed after the commit frame).
        writer.pragma_update(None, "cache_size", 5).unwrap();
        writer.execute_batch("BEGIN").unwrap();
        insert(&writer, 2000);
        exec(&writer, "UPDATE t SET v = randomblob(200)", []).unwrap();
        insert(&writer, 10);
        writer.execute_batch("COMMIT").unwrap();
        let copy = tempfile::tempdir().unwrap();
        let recovered = recovered_copy(&path, copy.path());
        assert_eq!(count(&recovered), 2010);
        check(&recovered);
    }

    #[test]
    fn a_rolled_back_transaction_leaves_nothing_behind_for_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let first = setup(&path);
        first.execute_batch("CREATE TABLE u(v BLOB)").unwrap();
        first.pragma_update(None, "cache_size", 5).unwrap();
        first.execute_batch("BEGIN").unwrap();
        // New pages only, one per row: the cache spills them as appends to the log
        // (uncommitted, ~400 KB), the last of them buffered until the rollback.
        exec(
            &first,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
             INSERT INTO u(v) SELECT zeroblob(3000) FROM n",
            [],
        )
        .unwrap();
        first.execute_batch("ROLLBACK").unwrap();
        // Another process writes where the rolled-back frames were.
        let other = open(&path, false);
        insert(&other, 300);
        // Were the rolled-back frames still buffered, this read or write would put them over
        // the other's committed frames.
        assert_eq!(count(&first), 300);
        insert(&first, 1);
        drop(other);
        let copy = tempfile::tempdir().unwrap();
        let recovered = recovered_copy(&path, copy.path());
        assert_eq!(count(&recovered), 301);
        check(&recovered);
    }

    #[test]
    fn a_large_transaction_is_written_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = setup(&path);
        // Room for the whole transaction: no spills, every frame written once, at the commit.
        writer.pragma_update(None, "cache_size", -64_000).unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        let before = writes();
        writer.execute_batch("BEGIN").unwrap();
        insert(&writer, 10_000); // ~6 MB of table and index pages
        writer.execute_batch("COMMIT").unwrap();
        let n = writes() - before;
        let frames = std::fs::metadata(path.with_file_name("db-wal"))
            .unwrap()
            .len()
            / 4120;
        // Each write under the unix VFS's limit: ~31 frames of 4 KiB.
        assert!(
            frames > 1000 && n >= frames as usize / 32 && n <= frames as usize / 30 + 2,
            "{n} writes of {frames} frames"
        );
        drop(writer);
        let again = open(&path, true);
        assert_eq!(count(&again), 10_000);
        check(&again);
    }
}
