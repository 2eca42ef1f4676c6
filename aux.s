.intel_syntax noprefix
/* writes the 8 bytes of AT_PHDR, exits 0 */
  mov rbx, rsp
  mov rcx, [rbx]
  lea rbx, [rbx + 8*rcx + 16]
1: cmp qword ptr [rbx], 0
  lea rbx, [rbx + 8]
  jne 1b
2: cmp qword ptr [rbx], 3
  je 3f
  add rbx, 16
  jmp 2b
3: lea rsi, [rbx + 8]
  mov eax, 1
  mov edi, 1
  mov edx, 8
  syscall
  mov eax, 60
  xor edi, edi
  syscall
