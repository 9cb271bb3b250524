@usableFromInline final class GradNode { let tape = Tape(); }
final class Tape { var isRecording = false }
