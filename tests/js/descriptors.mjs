// The services and error-detail types of orgd, from the descriptor set the Rust test writes
// (the same files the server serves over reflection), for the descriptor-based clients: no
// generated code to keep in step with the protos.
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

export function registryFrom(bytes) {
  const set = fromBinary(FileDescriptorSetSchema, bytes);
  // Several sets were concatenated: a shared import may appear more than once.
  const seen = new Set();
  set.file = set.file.filter((f) => !seen.has(f.name) && seen.add(f.name));
  return createFileRegistry(set);
}
