import Foundation
import GlassboxTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped into memory, read-only for the file and private (copy-on-write) for
/// the process: tensors that borrow from the mapping can never change the file.
///
/// The object owns the mapping; tensor storage that borrows from it keeps it alive.
public final class MappedFile: @unchecked Sendable {
    /// The file's name as given (used in error messages).
    public let path: String
    /// The file's last path component, used in error messages.
    public let name: String
    /// Start of the mapping (nil for an empty file).
    public let base: UnsafeMutableRawPointer?
    public let count: Int

    public init(path: String) throws {
        self.path = path
        self.name = (path as NSString).lastPathComponent
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw FormatError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw FormatError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FormatError.unreadable(file: path, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        self.count = size
        if size == 0 {
            self.base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw FormatError.unreadable(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        self.base = p
    }

    /// An anonymous private mapping holding a copy of `bytes` (in-memory data read like a file).
    public init(copying bytes: UnsafeRawBufferPointer, name: String) throws {
        self.path = name
        self.name = name
        self.count = bytes.count
        guard bytes.count > 0 else {
            self.base = nil
            return
        }
        let p = mmap(nil, bytes.count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw FormatError.unreadable(file: name, reason: "mmap of \(bytes.count) bytes failed: \(String(cString: strerror(errno)))")
        }
        p.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        self.base = p
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// The bytes `offset ..< offset + length`, or a `truncated` error naming `field`.
    func bytes(at offset: Int, count length: Int, field: String) throws -> UnsafeRawBufferPointer {
        try check(offset: offset, count: length, field: field)
        guard length > 0, let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }

    /// Bytes at an already validated position (empty when `length` is 0).
    func region(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer {
        guard length > 0, let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }

    /// A tensor borrowing `count` Float32 values at an already validated `offset`, or nil when the
    /// data is not 4-byte aligned (or empty) and must be copied instead. The storage object is
    /// kept in `cache`, so every tensor of the same data shares it and a tensor is never its
    /// only owner: in-place mutation copies first and never shows through other tensors.
    func borrowedFloats(at offset: Int, count: Int, shape: [Int], cache: StorageCache) -> Tensor? {
        guard count > 0, let base, offset & 3 == 0 else { return nil }
        let storage = cache.storage(at: offset) {
            let p = (base + offset).bindMemory(to: Float.self, capacity: count)
            return TensorStorage(borrowing: p, count: count, owner: self)
        }
        return Tensor(storage: storage, shape: shape)
    }

    /// `list[index[key]]`, or a `missing` error naming the tensor.
    func lookup<T>(_ tensorName: String, in index: [String: Int], _ list: [T]) throws -> T {
        guard let i = index[tensorName] else {
            throw FormatError.missing(file: name, field: "tensor \(tensorName)", expected: "a tensor of that name")
        }
        return list[i]
    }

    func check(offset: Int, count length: Int, field: String) throws {
        let available = max(0, count - max(0, offset))
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw FormatError.truncated(file: name, field: field, offset: offset, needed: length, available: available)
        }
    }
}

/// Borrowed storages of one file by byte offset (held by the reader, not by the mapping, so
/// that storage → mapping references form no cycle).
final class StorageCache: @unchecked Sendable {
    private let lock = NSLock()
    private var storages: [Int: TensorStorage] = [:]

    func storage(at offset: Int, make: () -> TensorStorage) -> TensorStorage {
        lock.lock()
        defer { lock.unlock() }
        if let s = storages[offset] { return s }
        let s = make()
        storages[offset] = s
        return s
    }
}

/// A bounds-checked little-endian cursor over a mapped file.
struct ByteCursor {
    let file: MappedFile
    var offset: Int

    init(_ file: MappedFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    var remaining: Int { file.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type, field: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        if offset < 0 || size > file.count - offset {
            try file.check(offset: offset, count: size, field: field())
        }
        let v = file.base!.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: v)
    }

    mutating func readFloat(field: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, field: field()))
    }

    mutating func readDouble(field: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, field: field()))
    }

    /// `count` raw bytes.
    mutating func bytes(_ count: Int, field: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let b = try file.bytes(at: offset, count: count, field: field())
        offset += count
        return b
    }
}
