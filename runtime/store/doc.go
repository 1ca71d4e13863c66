// Package store is rclua's persistent state: one namespace of keys per
// script (rc.store in Lua) and the event cursors of the sources, in a
// bbolt file (go.etcd.io/bbolt) in the state dir, or in memory for rclua
// check and tests. The daemon depends on the Store interface; *DB is its
// implementation, and a distributed backend may implement it later.
//
// # Values and namespaces
//
// A value is the JSON text of a script's value (luabind converts it), kept
// with an expiry. Each script's namespace is a bucket inside the bucket
// "scripts"; the cursors live in the bucket "cursors", which no script name
// can reach. A namespace outlives its script: deleting the script's file
// keeps its keys until `rclua store delete --all SCRIPT` drops them.
//
// # Bounds
//
// A key is at most Options.MaxKeyBytes (512), a value's JSON at most
// MaxValueBytes (256 KiB), and a namespace's keys and values together, each
// key counting EntryOverhead (128) bytes more, at most MaxTotalBytes (1
// MiB, rclua's --store-limit): so 1 MiB holds at most 7,700 keys however
// small they are. A write past a bound
// fails with a *LimitError (error_type "limit" in Lua) and changes nothing;
// before refusing for the total, the write deletes the namespace's expired
// keys.
//
// # Expiry
//
// A key set with a ttl expires at now+ttl (Options.Now is the clock):
// from then on reads, Keys and Update see it as absent. Expired keys are
// deleted from the file when the DB opens, every Options.SweepEvery (10
// min) by a goroutine Close ends, and when a write needs their room.
// Update keeps a key's expiry; Set without a ttl clears it.
//
// # Durability and concurrency
//
// Every Set, Delete, Update and SaveCursor is one bbolt transaction,
// committed before it returns. What holds:
//   - A kill -9 or a crash of rclua loses nothing a call returned for: the
//     commit is in the file (TestKill9LosesNothingSetReturnedFor kills a
//     writing child and reopens the file).
//   - A power loss or an OS crash loses nothing a call returned for as far
//     as the disk honours fsync: bbolt fsyncs the file at each commit
//     (fdatasync on Linux), and Open fsyncs the state dir once it created
//     store.db in it, and the parent of each folder it made, so the new
//     file's name is durable too (TestNewFileIsSyncedInItsFolder checks the
//     calls; a power cut itself is not tested).
//
// The fsync is most of a write's cost (see BenchmarkSet). Writes to one namespace are serialised by a lock of its
// own, held from Update's read through its write: fn runs outside bbolt's
// single write transaction, so a slow update function stalls its own
// namespace only. Waiting for that lock ends with the call's context.
//
// The DB is the file's only writer (see below), so a namespace's entries
// are read into memory on first use and kept in step with every commit:
// reads need no transaction. A namespace costs about its --store-limit of
// memory at most, and takes about as much of the file, which grows in
// steps and does not shrink when keys are deleted (bbolt reuses the room).
// BenchmarkEntryCost measures both per entry.
//
// # The file lock
//
// bbolt locks the file: exclusively for a writer, shared for ReadOnly.
// Open waits Options.LockTimeout (100ms) for it, then fails with an error
// wrapping ErrLocked that names the state dir. So a second daemon on the
// same state dir stops at once, and so does a ReadOnly open (rclua store
// list/get) while a daemon runs: the daemon's exclusive lock excludes the
// shared one, and the command then asks the daemon on its control socket
// instead. Readers share the file among themselves.
package store
