package impact

import "context"

// stopper lets a long computation observe its caller's cancellation
// without threading errors through every loop: tick counts units of work
// (hour buckets, periods, customers) and, every stopEvery of them, looks
// at the context; once it is done, the computation unwinds with a stopped
// panic that EstimateScenarioContext turns back into the context's error.
// A nil stopper (a context that can never be done) costs one comparison.
type stopper struct {
	ctx context.Context
	n   uint64
}

// stopEvery units between two looks at the context: a unit is at most a
// few microseconds, so a cancelled estimate stops within milliseconds,
// and the look (a mutex) stays off the profile.
const stopEvery = 1024

type stopped struct{ err error }

func newStopper(ctx context.Context) *stopper {
	if ctx == nil || ctx.Done() == nil {
		return nil
	}
	return &stopper{ctx: ctx}
}

func (s *stopper) tick() {
	if s == nil {
		return
	}
	s.n++
	if s.n%stopEvery == 0 {
		s.check()
	}
}

// check stops now if the context is done.
func (s *stopper) check() {
	if s == nil {
		return
	}
	if err := s.ctx.Err(); err != nil {
		panic(stopped{err})
	}
}

// recoverStopped turns a stopped panic into *err; any other panic goes on.
func recoverStopped(err *error) {
	if r := recover(); r != nil {
		st, ok := r.(stopped)
		if !ok {
			panic(r)
		}
		*err = st.err
	}
}
