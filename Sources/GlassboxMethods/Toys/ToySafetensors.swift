import Foundation
import GlassboxTensor

/// A minimal safetensors writer and reader for F32 tensors, used to save and load the toy
/// models' weights. Format: 8-byte little-endian header length, a JSON header mapping each
/// name to `{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}` (plus an optional
/// `"__metadata__"` map of strings), then the raw little-endian data.
public enum ToySafetensors {
    /// Writes `tensors` (sorted by name) atomically to `url`: a temporary file, then a rename.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let names = tensors.keys.sorted()
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
            offset += 4 * t.count
        }
        var json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        } catch {
            throw ToyModelError.io(file: url.path, reason: "could not encode the header: \(error)")
        }
        // Pad the header with spaces to a multiple of 8 so the data is aligned.
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(json)
        for name in names {
            let t = tensors[name]!.contiguous()
            t.withUnsafeBufferPointer { b in
                var le = [UInt32](repeating: 0, count: b.count)
                for i in 0..<b.count { le[i] = b[i].bitPattern.littleEndian }
                le.withUnsafeBytes { data.append(contentsOf: $0) }
            }
        }
        let dir = url.deletingLastPathComponent()
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temp)
            // rename(2) replaces an existing file atomically.
            if rename(temp.path, url.path) != 0 {
                throw ToyModelError.io(file: url.path, reason: "could not rename the temporary file into place (errno \(errno))")
            }
        } catch let error as ToyModelError {
            try? FileManager.default.removeItem(at: temp)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw ToyModelError.io(file: url.path, reason: "could not write: \(error.localizedDescription)")
        }
    }

    /// Reads every F32 tensor of a safetensors file, and its `__metadata__` strings.
    public static func read(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ToyModelError.io(file: file, reason: "could not read: \(error.localizedDescription)")
        }
        guard data.count >= 8 else { throw ToyModelError.malformedSafetensors(file: file, reason: "only \(data.count) bytes, expected at least 8") }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard length <= UInt64(data.count - 8) else {
            throw ToyModelError.malformedSafetensors(file: file, reason: "header length \(length) exceeds the file size \(data.count)")
        }
        let headerEnd = 8 + Int(length)
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) } catch {
            throw ToyModelError.malformedSafetensors(file: file, reason: "header is not JSON")
        }
        guard let header = object as? [String: Any] else {
            throw ToyModelError.malformedSafetensors(file: file, reason: "header is not a JSON object")
        }
        let body = data.count - headerEnd
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else {
                    throw ToyModelError.malformedSafetensors(file: file, reason: "__metadata__ is not a map of strings")
                }
                metadata = m
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2 else {
                throw ToyModelError.malformedSafetensors(file: file, reason: "tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else {
                throw ToyModelError.malformedSafetensors(file: file, reason: "tensor '\(name)' has dtype \(dtype), expected F32")
            }
            let count = shape.reduce(1, *)
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[1] == offsets[0] + 4 * count, offsets[1] <= body else {
                throw ToyModelError.malformedSafetensors(file: file, reason: "tensor '\(name)' has data_offsets \(offsets) for shape \(shape) in a body of \(body) bytes")
            }
            let start = data.startIndex + headerEnd + offsets[0]
            let t = Tensor(shape: shape) { out in
                data.withUnsafeBytes { raw in
                    for i in 0..<count {
                        let bits = raw.loadUnaligned(fromByteOffset: start - data.startIndex + 4 * i, as: UInt32.self)
                        out[i] = Float(bitPattern: UInt32(littleEndian: bits))
                    }
                }
            }
            tensors[name] = t
        }
        return (tensors, metadata)
    }
}
