import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalFunction } from '@triage/report';
import { parseAddr2line } from '@triage/symbolizer';

describe('canonicalFunction drops C++ return types and parameters', () => {
  const cases: Array<[string, string]> = [
    ['void node::Abort()', 'node::Abort'],
    ['node::Abort(v8::FunctionCallbackInfo<v8::Value> const&)', 'node::Abort'],
    [
      'v8::internal::MaybeHandle<v8::internal::Object> v8::internal::(anonymous namespace)::HandleApiCallHelper<false>(v8::internal::Isolate*, v8::internal::Handle<v8::internal::HeapObject>)',
      'v8::internal::(anonymous namespace)::HandleApiCallHelper<false>',
    ],
    ['unsigned long long ns::f<std::vector<int, std::allocator<int> > >()', 'ns::f<std::vector<int, std::allocator<int> > >'],
    ['operator new(unsigned long)', 'operator new'],
    ['void* operator new[](unsigned long)', 'operator new[]'],
    ['ns::T::operator bool() const', 'ns::T::operator bool'],
    ['std::ostream& std::operator<< <std::char_traits<char> >(std::ostream&, char const*)', 'std::operator<< <std::char_traits<char> >'],
    ['foo::{lambda(int)#1}::operator()(int) const', 'foo::{lambda(int)#1}::operator()'],
    ['<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop', '<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop'],
    ['main', 'main'],
    // Rust legacy mangling as a C++ demangler leaves it.
    ['core::result::Result$LT$T$C$E$GT$::expect::h14654340abdcc7c2', 'core::result::Result<T,E>::expect'],
    ['std::rt::lang_start::_$u7b$$u7b$closure$u7d$$u7d$::h0123456789abcdef', 'std::rt::lang_start::{{closure}}'],
    ['_$LT$alloc..vec..Vec$LT$T$C$A$GT$$u20$as$u20$core..ops..drop..Drop$GT$::drop::h0123456789abcdef', '<alloc::vec::Vec<T,A> as core::ops::drop::Drop>::drop'],
  ];
  for (const [name, want] of cases) test(name, () => assert.equal(canonicalFunction(name), want));
});

describe('parseAddr2line', () => {
  test('one chain per address, innermost first, discriminators and unknowns dropped', () => {
    const out = [
      '0x00000000000132f9',
      '_call_function_pointer',
      './build-static/./Modules/_ctypes/callproc.c:923 (discriminator 2)',
      '_ctypes_callproc',
      './build-static/./Modules/_ctypes/callproc.c:1262',
      '0x0000000000001000',
      '??',
      '??:0',
      '',
    ].join('\n');
    const chains = parseAddr2line(out);
    assert.deepEqual(chains.get(0x132f9n), [
      { function: '_call_function_pointer', file: './build-static/./Modules/_ctypes/callproc.c', line: 923 },
      { function: '_ctypes_callproc', file: './build-static/./Modules/_ctypes/callproc.c', line: 1262 },
    ]);
    assert.deepEqual(chains.get(0x1000n), [{}]);
  });
});
