"""The course's own code for *Differentiate Almost Everywhere*, by chapter.

``relaxlib`` is the library a reader could take into a project; this package is everything
else the book needs: one subpackage per chapter (``ch03_softmax``, ...) holding that
chapter's toy problems (``problems``), figures (``figures``) and exercise checkers
(``checks``), plus one home for each piece of shared machinery:

* :mod:`dae_course.checking`: the exercise-checking framework (:class:`Feedback`,
  :class:`Mistake`, :func:`check_function`);
* :mod:`dae_course.sliders`: kernel-free sliders and animations for the website;
* :mod:`dae_course.explorers`: live ipywidgets explorers;
* :mod:`dae_course.stats`: standard errors and critical values for the book's random claims;
* :mod:`dae_course.tables`: the rounded rows and tables the notebooks print;
* :mod:`dae_course.palette`: colours shared by the figures.

It imports relaxlib; relaxlib never imports it. Import submodules explicitly, e.g.
``from dae_course import ch06_reinforce as ch6``.
"""
